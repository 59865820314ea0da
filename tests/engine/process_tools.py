"""Real processes for the engine's hostile-task tests: spawn, find, wait."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

HOSTILE_TASK = """
import os, signal, subprocess, sys, time
marker = {marker!r}
# A grandchild in a session of its own that ignores SIGTERM and outlives us.
subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "time.sleep(300)", marker],
    start_new_session=True,
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
time.sleep({sleep})
"""


def write_hostile_task(folder: Path, marker: str, sleep: float = 0.5) -> str:
    """A task script that leaves a grandchild behind; returns its stored command."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "hostile task.py"
    script.write_text(HOSTILE_TASK.format(marker=marker, sleep=sleep))
    return shlex.join([sys.executable, str(script)])


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_zombie(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def processes_with_marker(
    marker: str, settle: float = 5.0, *, also: str = ""
) -> list[int]:
    """Live processes whose command line mentions `marker` (and `also`).

    Waits up to `settle` seconds for them to go before answering.
    """
    deadline = time.monotonic() + settle
    while True:
        found = [
            int(pid)
            for pid in os.listdir("/proc")
            if pid.isdigit()
            and int(pid) != os.getpid()
            and marker in (line := _cmdline(pid))
            and also in line
            and not _is_zombie(pid)
        ]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
