"""Package-folder locks across processes (real processes, real lock files)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fractal_core.collection import TaskLifecycleError
from fractal_core.collection.locking import lock_path
from fractal_core.collection.locking import task_group_lock

from .conftest import child_env

HOLDER = """
import sys, pathlib
from fractal_core.collection.locking import task_group_lock
path, events = sys.argv[1], pathlib.Path(sys.argv[2])
with task_group_lock(path, on_wait=lambda m: open(events, "a").write("waiting\\n")):
    open(events, "a").write("child-acquired\\n")
"""


def test_lock_path() -> None:
    assert lock_path("/base/u/pkg/1.0/") == "/base/u/pkg/1.0.lock"
    a = lock_path("/base/u/pkg/1.0", "/locks")
    assert a.startswith("/locks/taskgroup-") and a != lock_path(
        "/base/u/pkg/2.0", "/locks"
    )


def _wait_for(predicate, what: str, limit: float = 60.0) -> None:
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_second_process_waits_for_the_lock(tmp_path: Path) -> None:
    folder = str(tmp_path / "base" / "pkg" / "1.0")
    events = tmp_path / "events.txt"
    with task_group_lock(folder):
        child = subprocess.Popen(
            [sys.executable, "-c", HOLDER, folder, str(events)], env=child_env()
        )
        _wait_for(lambda: events.exists() and "waiting" in events.read_text(), "wait")
        with open(events, "a") as f:
            f.write("parent-releases\n")
    assert child.wait(timeout=60) == 0
    assert events.read_text().splitlines() == [
        "waiting",
        "parent-releases",
        "child-acquired",
    ]


def test_lock_timeout(tmp_path: Path) -> None:
    folder = str(tmp_path / "pkg" / "1.0")
    with task_group_lock(folder):
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\n"
                "from fractal_core.collection.locking import task_group_lock\n"
                "try:\n"
                "    with task_group_lock(sys.argv[1], timeout=0.2): pass\n"
                "except Exception as e: print(type(e).__name__, e)\n",
                folder,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=child_env(),
        )
    assert TaskLifecycleError.__name__ in child.stdout
    assert "Could not acquire" in child.stdout


@pytest.mark.parametrize("use_lock_dir", [False, True])
def test_lock_is_reentrant_after_release(tmp_path: Path, use_lock_dir: bool) -> None:
    lock_dir = str(tmp_path / "locks") if use_lock_dir else None
    folder = str(tmp_path / "pkg" / "1.0")
    with task_group_lock(folder, lock_dir=lock_dir) as first:
        pass
    with task_group_lock(folder, lock_dir=lock_dir, timeout=0) as second:
        assert first == second
    assert Path(first).exists()
