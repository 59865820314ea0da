"""Host contract: cases every `Host` implementation must pass (local now, SSH later).

Each case takes a `HostUnderTest`: the host, a Python interpreter on that host and
a scratch folder on it. Process checks run a small scanner *on the host* (through
`host.run`), so the same cases apply to a remote host. A module that tests an
implementation parametrizes `HOST_CASES` over its factories (see
`test_contract.py`).
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from fractal_core.hosts import CommandTimeoutError
from fractal_core.hosts import Host
from fractal_core.hosts import HostError
from fractal_core.hosts import UnsafePathError


@dataclass
class HostUnderTest:
    """A host, a Python interpreter on it and a scratch folder on it."""

    host: Host
    python: str
    workdir: str


HostFactory = Callable[[str], HostUnderTest]
"""Builds a `HostUnderTest` given a fresh local temporary folder."""

# Prints the pids whose command line contains argv[1], leaving out the scanner
# itself and its ancestors (a host may wrap it: `sudo ... python -c SCAN marker`
# or a remote shell repeat the marker in their own command lines).
SCAN = """
import json, os, sys
def parent(pid):
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0
mine, pid = set(), os.getpid()
while pid > 1 and pid not in mine:
    mine.add(pid)
    pid = parent(pid)
found = []
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) in mine:
        continue
    try:
        raw = open(f"/proc/{name}/cmdline", "rb").read()
    except OSError:
        continue
    if sys.argv[1].encode() in raw:
        found.append(int(name))
print(json.dumps(found))
"""

# A process tree: the leader ignores SIGTERM, starts a child that ignores it too
# and a grandchild; all carry the marker (argv[1]) in their command line.
# argv[2] == "exit": the leader leaves its child running and exits at once.
TREE = """
import os, signal, subprocess, sys, time
marker, mode = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, signal.SIG_IGN)
inner = ("import signal, subprocess, sys, time; "
         "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
         "sys.argv[1]]); time.sleep(600)")
subprocess.Popen([sys.executable, "-c", inner, marker],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("ready", flush=True)
if mode == "exit":
    sys.exit(0)
time.sleep(600)
"""


def marked_pids(hut: HostUnderTest, marker: str) -> list[int]:
    """Pids on the host whose command line contains `marker`."""
    res = hut.host.run([hut.python, "-c", SCAN, marker])
    assert res.ok, res.stderr
    return list(json.loads(res.stdout))


def wait_none_left(hut: HostUnderTest, marker: str, limit: float = 30.0) -> None:
    """Assert that no marked process remains (polls: a SIGKILL is asynchronous)."""
    deadline = time.monotonic() + limit
    while pids := marked_pids(hut, marker):
        assert time.monotonic() < deadline, f"processes left behind: {pids}"
        time.sleep(0.1)


def wait_tree_started(hut: HostUnderTest, marker: str, count: int = 3) -> None:
    """Wait (hang guard) until `count` marked processes exist."""
    deadline = time.monotonic() + 30
    while len(marked_pids(hut, marker)) < count:
        assert time.monotonic() < deadline, "the process tree never started"
        time.sleep(0.05)


def case_run_codes_and_streams(hut: HostUnderTest) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    res = hut.host.run([hut.python, "-c", code], cwd=hut.workdir)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")


def case_no_shell(hut: HostUnderTest) -> None:
    arg = f"x; touch {hut.workdir}/pwned"
    res = hut.host.run(["echo", arg])
    assert res.stdout.strip() == arg
    assert not hut.host.exists(f"{hut.workdir}/pwned")


def case_bad_commands(hut: HostUnderTest) -> None:
    with pytest.raises(HostError):
        hut.host.run([])
    with pytest.raises(HostError, match="Cannot run"):
        hut.host.run(["/nonexistent/bin/xyz"])


def case_timeout_kills_whole_tree(hut: HostUnderTest) -> None:
    """Leader and child ignore SIGTERM: the timeout still ends all three."""
    marker = f"fractal-contract-{uuid.uuid4().hex}"
    with pytest.raises(CommandTimeoutError, match="timed out after 1.5") as info:
        hut.host.run([hut.python, "-c", TREE, marker, "wait"], timeout=1.5)
    assert info.value.stdout == "ready\n"
    wait_none_left(hut, marker)


def case_interrupt_kills_whole_tree(hut: HostUnderTest) -> None:
    """A KeyboardInterrupt while waiting kills the tree, then propagates."""
    marker = f"fractal-contract-{uuid.uuid4().hex}"
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread().ident == main

    def on_output(line: str) -> None:
        if line == "ready":
            wait_tree_started(hut, marker)
            signal.pthread_kill(main, signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        hut.host.run([hut.python, "-c", TREE, marker, "wait"], on_output=on_output)
    wait_none_left(hut, marker)


def case_exception_in_caller_kills_tree(hut: HostUnderTest) -> None:
    """Any exception raised in the waiting thread (here SystemExit) kills the tree."""
    marker = f"fractal-contract-{uuid.uuid4().hex}"
    main = threading.main_thread().ident
    assert main is not None
    previous = signal.getsignal(signal.SIGUSR1)

    def raise_exit(signum: int, frame: object) -> None:
        raise SystemExit("cancelled")

    def on_output(line: str) -> None:
        if line == "ready":
            wait_tree_started(hut, marker)
            signal.pthread_kill(main, signal.SIGUSR1)

    signal.signal(signal.SIGUSR1, raise_exit)
    try:
        with pytest.raises(SystemExit, match="cancelled"):
            hut.host.run([hut.python, "-c", TREE, marker, "wait"], on_output=on_output)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    wait_none_left(hut, marker)


def case_normal_exit_leaves_no_child(hut: HostUnderTest) -> None:
    """A leader that exits while its children run: the children are killed."""
    marker = f"fractal-contract-{uuid.uuid4().hex}"
    res = hut.host.run([hut.python, "-c", TREE, marker, "exit"], timeout=60)
    assert res.ok and res.stdout == "ready\n"
    wait_none_left(hut, marker)


def case_remove_tree_rules(hut: HostUnderTest) -> None:
    host, base = hut.host, f"{hut.workdir}/base"
    host.mkdir(f"{base}/pkg/1.0/venv")
    host.write_text(f"{base}/pkg/1.0/venv/x", "x")
    for bad in (base, hut.workdir, f"{base}/../x", "relative/dir"):
        with pytest.raises(UnsafePathError, match="Refusing removal"):
            host.remove_tree(bad, base=base)
    host.remove_tree(f"{base}/pkg/1.0", base=base)
    assert not host.exists(f"{base}/pkg/1.0") and host.is_dir(f"{base}/pkg")


HOST_CASES: list[Callable[[HostUnderTest], None]] = [
    case_run_codes_and_streams,
    case_no_shell,
    case_bad_commands,
    case_timeout_kills_whole_tree,
    case_interrupt_kills_whole_tree,
    case_exception_in_caller_kills_tree,
    case_normal_exit_leaves_no_child,
    case_remove_tree_rules,
]
