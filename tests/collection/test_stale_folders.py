"""A collector killed with SIGKILL leaves a recognisable, recoverable folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from dataclasses import replace
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import TaskGroupPathExists
from fractal_core.collection import collect_wheel
from fractal_core.collection import deactivate
from fractal_core.collection import reactivate
from fractal_core.collection import recover_stale_folders
from fractal_core.collection.ownership import TOKEN_ENV
from fractal_core.collection.ownership import OwnerRecord
from fractal_core.collection.ownership import OwnerState
from fractal_core.collection.ownership import marker_path
from fractal_core.collection.ownership import process_start_time
from fractal_core.collection.ownership import read_owner
from fractal_core.hosts import LocalHost

from .conftest import child_env
from .helpers import make_wheel
from .helpers import manifest
from .standins import SlowPython
from .standins import make_slow_python
from .standins import marked_pids
from .standins import wait_none_left

CHILD = """
import sys
from fractal_core.collection import CollectionSettings, collect_wheel
settings = CollectionSettings.model_validate_json(sys.argv[1])
collect_wheel(sys.argv[2], settings=settings)
"""


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[SlowPython]:
    """A stand-in interpreter (see `standins`); its leftovers are killed at the end."""
    standin = make_slow_python(tmp_path / "standin")
    yield standin
    standin.unblock()
    for pid in marked_pids(standin.marker):  # only if a test failed
        os.kill(pid, signal.SIGKILL)


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_record(target: Path, record: OwnerRecord) -> None:
    Path(marker_path(str(target))).write_text(json.dumps(asdict(record)))


def test_sigkilled_collector_is_recovered_by_the_next_collection(
    slow: SlowPython, tmp_path: Path
) -> None:
    """SIGKILL a process collecting while its (stand-in) `-m venv` step hangs.

    The stand-in (see `standins`) survives its parent, as a pip would: it runs in
    its own session. The next collection must see a dead owner, kill the
    leftovers, clean the folder and succeed.
    """
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    settings = slow.settings(tmp_path / "tasks")
    folder = tmp_path / "tasks" / "tiny-tasks" / "1.0.0"
    slow.block()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, settings.model_dump_json(), str(wheel)],
        env=child_env(),
    )
    slow.wait_started()
    record = read_owner(LocalHost(), str(folder))
    assert record is not None and record.pid == child.pid
    assert record.state() == OwnerState.ALIVE
    with pytest.raises(TaskGroupPathExists, match=f"being built by pid={child.pid}"):
        collect_wheel(wheel, settings=settings)
    child.kill()
    child.wait(timeout=60)
    assert marked_pids(slow.marker), "the stand-in should have outlived its parent"
    assert folder.exists() and record.state() == OwnerState.DEAD

    def on_change(activity: object) -> None:
        # Recovery has run (leftovers killed): let this run's own venv step pass.
        if "Recovery:" in (getattr(activity, "log", "") or ""):
            slow.unblock()

    res = collect_wheel(wheel, settings=settings, on_change=on_change)
    assert res.ok, res.activity.log
    wait_none_left(slow.marker)
    log = res.activity.log
    assert (
        f"removed a half-built folder left by dead process pid={child.pid} "
        f"on host {socket.gethostname()}" in log
    )
    assert "killed its leftover processes" in log
    assert not Path(marker_path(str(folder))).exists()
    assert (folder / "venv" / "bin" / "python").exists()


def test_folder_without_record_is_still_refused(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    folder = Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    (folder / "venv").mkdir(parents=True)
    with pytest.raises(TaskGroupPathExists, match="already exists"):
        collect_wheel(wheel, settings=settings)
    assert recover_stale_folders(settings) == []
    assert (folder / "venv").is_dir()


def test_owner_states(tmp_path: Path) -> None:
    me = OwnerRecord.current("tok", str(tmp_path))
    assert me.pid == os.getpid() and me.state() == OwnerState.ALIVE
    assert replace(me, pid=_dead_pid()).state() == OwnerState.DEAD
    if me.start_time is not None:  # pid reused by another process
        assert replace(me, start_time=me.start_time + 1).state() == OwnerState.DEAD
    if me.boot_id is not None:
        assert replace(me, boot_id="other-boot").state() == OwnerState.DEAD
    assert replace(me, host="elsewhere.example").state() == OwnerState.UNKNOWN
    assert OwnerRecord.parse(json.dumps(asdict(me))) == me
    assert OwnerRecord.parse("{not json") is None
    assert OwnerRecord.parse('{"pid": 1}') is None
    assert process_start_time(os.getpid()) == me.start_time


def test_recover_stale_folders(settings: CollectionSettings) -> None:
    base = Path(settings.base_dir)
    stale = base / "1" / "pkg" / "1.0"
    live = base / "1" / "pkg" / "2.0"
    remote = base / "1" / "pkg" / "3.0"
    real = base / "1" / "pkg" / "4.0"
    orphan_record = base / "2" / "other" / "1.0"  # record, but no folder
    for folder in (stale, live, remote, real):
        (folder / "venv").mkdir(parents=True)
    orphan_record.parent.mkdir(parents=True)
    mine = OwnerRecord.current("tok", str(stale))
    _write_record(stale, replace(mine, pid=_dead_pid()))
    _write_record(live, replace(mine, locked_path=str(live)))
    _write_record(remote, replace(mine, host="elsewhere.example", pid=_dead_pid()))
    _write_record(
        orphan_record, replace(mine, pid=_dead_pid(), locked_path=str(orphan_record))
    )
    assert recover_stale_folders(settings) == sorted([str(stale), str(orphan_record)])
    assert not stale.exists() and not Path(marker_path(str(stale))).exists()
    assert not Path(marker_path(str(orphan_record))).exists()
    for kept in (live, remote, real):
        assert (kept / "venv").is_dir()
    assert Path(marker_path(str(live))).exists()
    assert recover_stale_folders(settings) == []


def test_record_pointing_outside_the_base_is_ignored(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    stale = Path(settings.base_dir) / "pkg" / "1.0"
    (stale / "venv").mkdir(parents=True)
    record = OwnerRecord.current("tok", str(tmp_path / "elsewhere"))
    _write_record(stale, replace(record, pid=_dead_pid()))
    assert recover_stale_folders(settings) == []
    assert stale.is_dir()


def test_reactivation_recovers_a_venv_left_by_a_dead_process(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """A reactivation killed midway leaves `venv/` and its record: recovered."""
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    group = collect_wheel(wheel, settings=settings).raise_for_failure().task_group
    assert group is not None
    assert deactivate(group, settings=settings).ok
    venv = Path(str(group.venv_path))
    (venv / "bin").mkdir(parents=True)  # what a killed `python -m venv` leaves
    record = OwnerRecord.current("tok", str(group.path))
    _write_record(venv, replace(record, pid=_dead_pid()))
    res = reactivate(group, settings=settings)
    assert res.ok, res.activity.log
    assert "Recovery: removed a half-built folder" in res.activity.log
    assert not Path(marker_path(str(venv))).exists()
    assert (venv / "bin" / "python").exists()


def test_recovery_kills_only_the_dead_owners_processes(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """Processes carrying the dead owner's token are killed; another token's are not.

    Two `sleep` stand-ins play a pip left running by a dead collector and a pip of
    another (live) operation; their argv carries a unique marker for /proc scans.
    """
    marker = f"fractal-leftover-{uuid.uuid4().hex}"
    dead_token, other_token = uuid.uuid4().hex, uuid.uuid4().hex
    procs = {
        token: subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)", marker, token],
            env={**os.environ, TOKEN_ENV: token},
        )
        for token in (dead_token, other_token)
    }
    try:
        stale = Path(settings.base_dir) / "pkg" / "1.0"
        (stale / "venv").mkdir(parents=True)
        record = OwnerRecord.current(dead_token, str(stale))
        _write_record(stale, replace(record, pid=_dead_pid()))
        assert recover_stale_folders(settings) == [str(stale)]
        assert procs[dead_token].wait(timeout=60) == -signal.SIGKILL
        assert procs[other_token].poll() is None
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
