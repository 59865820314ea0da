"""A stand-in base interpreter whose `-m venv` step blocks, for crash and hang tests.

Collection creates each venv with `<base python> -m venv ...`, and the settings
name that interpreter. The stand-in is a script with this interpreter in its
shebang: while its gate file exists, `-m venv` starts a child (like pip's build
backends), ignores SIGTERM (like a stubborn command) and waits; otherwise, or
once the gate is removed, it execs the real interpreter, so collection works
normally. Every process it starts carries the stand-in's unique folder name in
its command line, which lets the tests find leftovers in /proc.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PythonSettings

SCRIPT = """#!{real}
import os, signal, subprocess, sys, time
real, gate, started, marker = {real!r}, {gate!r}, {started!r}, {marker!r}
if sys.argv[1:3] == ["-m", "venv"] and os.path.exists(gate):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([real, "-c", "import time; time.sleep(600)", marker])
    with open(started, "w") as f:
        f.write(str(os.getpid()))
    end = time.monotonic() + 600
    while os.path.exists(gate) and time.monotonic() < end:
        time.sleep(0.05)
os.execv(real, [real, *sys.argv[1:]])
"""


@dataclass
class SlowPython:
    """Paths of one stand-in interpreter."""

    python: Path
    gate: Path
    started: Path
    marker: str

    def block(self) -> None:
        """Make the next `-m venv` wait (until `unblock` or for 600 s)."""
        self.gate.touch()

    def unblock(self) -> None:
        self.gate.unlink(missing_ok=True)

    def settings(self, base_dir: Path, **kw: object) -> CollectionSettings:
        """Collection settings whose only interpreter is the stand-in."""
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        python = PythonSettings(
            default_version=version,  # type: ignore[arg-type]
            versions={version: str(self.python)},  # type: ignore[dict-item]
        )
        return CollectionSettings(
            base_dir=str(base_dir),
            python=python,
            upgrade_pip=False,
            **kw,  # type: ignore[arg-type]
        )

    def wait_started(self, limit: float = 120.0) -> int:
        """Wait (hang guard) until the blocked step runs; return the stand-in's pid."""
        deadline = time.monotonic() + limit
        while not (self.started.exists() and self.started.read_text()):
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
        return int(self.started.read_text())


def make_slow_python(folder: Path) -> SlowPython:
    """Write a stand-in interpreter in a uniquely named folder under `folder`."""
    marker = f"fractal-standin-{uuid.uuid4().hex}"
    home = folder / marker
    home.mkdir(parents=True)
    real = os.path.realpath(sys.executable)
    slow = SlowPython(home / "python", home / "gate", home / "started", marker)
    slow.python.write_text(
        SCRIPT.format(
            real=real,
            gate=str(slow.gate),
            started=str(slow.started),
            marker=marker,
        )
    )
    slow.python.chmod(0o755)
    return slow


def marked_pids(marker: str) -> list[int]:
    """Pids (not this process) whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            raw = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in raw:
            found.append(int(name))
    return found


def wait_none_left(marker: str, limit: float = 30.0) -> None:
    """Assert no process carrying `marker` remains (polls: SIGKILL is async)."""
    deadline = time.monotonic() + limit
    while pids := marked_pids(marker):
        assert time.monotonic() < deadline, f"processes left behind: {pids}"
        time.sleep(0.1)
