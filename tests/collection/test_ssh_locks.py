"""Task-group locks on the remote side of an SSH host, against the real sshd.

The lock of a folder on an `SSHHost` is the folder `<path>.lock` created there
(atomic `mkdir`) with an owner record inside; these tests hold it from this
process or from separate processes, and fake dead, foreign and missing owners.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from dataclasses import asdict
from dataclasses import replace
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import TaskLifecycleError
from fractal_core.collection import collect_wheel
from fractal_core.collection import find_task_groups
from fractal_core.collection.host_lock import HostLock
from fractal_core.collection.locking import task_group_lock
from fractal_core.collection.ownership import OwnerRecord
from fractal_core.hosts import SSHHost
from tests.ssh import sshd as _sshd

from .ssh_fixtures import child_activity
from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import start_child_collection
from .ssh_fixtures import wait_for

PKG = "fractal-tasks-testkit/0.1.0"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _plant_lock(remote: SSHHost, path: str, record: OwnerRecord | None) -> str:
    """A lock folder as another process would have left it."""
    lock = f"{path}.lock"
    remote.mkdir(lock)
    if record is not None:
        remote.write_text(f"{lock}/owner.json", json.dumps(asdict(record)))
    return lock


def test_busy_remote_lock_fails_the_collection_naming_the_lock(
    remote: SSHHost, remote_settings: CollectionSettings, testkit_wheel: Path
) -> None:
    settings = remote_settings.model_copy(update={"lock_timeout": 0})
    path = f"{settings.base_dir}/5/{PKG}"
    with task_group_lock(path, host=remote) as lock:
        assert lock == f"{path}.lock" and remote.is_dir(lock)
        res = collect_wheel(testkit_wheel, settings=settings, user_id=5, host=remote)
    assert not res.ok and res.task_group is None
    assert f"Could not acquire the lock {path}.lock on {remote!r}" in res.activity.log
    assert "within 0 seconds" in res.activity.log
    assert f"pid={os.getpid()} on host" in res.activity.log
    assert not remote.exists(path) and not remote.exists(f"{path}.lock")


def test_second_process_waits_for_the_remote_lock(
    sshd: _sshd.SSHServer,
    remote: SSHHost,
    remote_settings: CollectionSettings,
    testkit_wheel: Path,
    tmp_path: Path,
) -> None:
    path = f"{remote_settings.base_dir}/6/{PKG}"
    events = tmp_path / "events.json"
    with task_group_lock(path, host=remote):
        child = start_child_collection(
            sshd.endpoint, remote_settings, testkit_wheel, 6, events
        )
        try:
            wait_for(
                lambda: (
                    "Waiting for the lock"
                    in ((child_activity(events) or {}).get("log") or "")
                ),
                "the child to wait for the lock",
            )
            assert child.poll() is None and not remote.exists(path)
        except BaseException:
            child.kill()
            raise
    assert child.wait(timeout=600) == 0
    activity = child_activity(events)
    assert activity is not None and activity["status"] == "OK", activity
    assert f"Waiting for the lock {path}.lock on SSHHost(" in activity["log"]
    assert remote.is_file(f"{path}/venv/bin/python")


def test_two_concurrent_collections_exactly_one_builds(
    sshd: _sshd.SSHServer,
    remote: SSHHost,
    remote_settings: CollectionSettings,
    testkit_wheel: Path,
    tmp_path: Path,
) -> None:
    events = [tmp_path / "a.json", tmp_path / "b.json"]
    children = [
        start_child_collection(sshd.endpoint, remote_settings, testkit_wheel, 7, e)
        for e in events
    ]
    assert [c.wait(timeout=600) for c in children] == [0, 0]
    outcomes = [child_activity(e) for e in events]
    assert all(o is not None for o in outcomes)
    assert sum(o["status"] == "OK" for o in outcomes if o is not None) == 1, outcomes
    other = next(o for o in outcomes if o is not None and o["status"] != "OK")
    # Refused up front (the folder is there, being built by the other process),
    # or failed under the lock once the other had finished: never built twice.
    assert other["status"] in ("refused", "failed") and "already exists" in other["log"]
    path = f"{remote_settings.base_dir}/7/{PKG}"
    assert [g.path for g in find_task_groups(remote_settings, host=remote)] == [path]
    assert not remote.exists(f"{path}.lock")


@pytest.fixture
def lock_target(remote: SSHHost, remote_settings: CollectionSettings) -> str:
    folder = f"{remote_settings.base_dir}/1/pkg"
    remote.mkdir(folder)
    return f"{folder}/1.0"


def test_lock_of_a_dead_process_of_this_machine_is_taken_over(
    remote: SSHHost, lock_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = replace(OwnerRecord.current("d" * 32, lock_target), pid=_dead_pid())
    lock = _plant_lock(remote, lock_target, dead)
    caplog.set_level(logging.WARNING, "fractal_core.collection.host_lock")
    with HostLock(remote, lock_target, timeout=0) as taken:
        assert taken == lock
        owner = json.loads(remote.read_text(f"{lock}/owner.json"))
        assert owner["pid"] == os.getpid() and owner["token"] != "d" * 32
    assert f"Took over the stale lock {lock}" in caplog.text
    assert f"pid={dead.pid}" in caplog.text
    assert not remote.exists(lock)
    # Nothing but the lock's own folder was ever next to the target.
    assert remote.run(["ls", "-A", os.path.dirname(lock_target)]).stdout == ""


def test_lock_of_another_machine_is_not_broken_unless_told(
    remote: SSHHost, lock_target: str
) -> None:
    foreign = replace(
        OwnerRecord.current("f" * 32, lock_target),
        host="login2.cluster.example",
        pid=4242,
    )
    lock = _plant_lock(remote, lock_target, foreign)
    with pytest.raises(TaskLifecycleError) as e:
        HostLock(remote, lock_target, timeout=0).acquire()
    assert f"lock {lock} on {remote!r}" in str(e.value)
    assert "pid=4242 on host login2.cluster.example" in str(e.value)
    assert remote.is_file(f"{lock}/owner.json")
    with HostLock(remote, lock_target, timeout=0, foreign_stale_after=-1):
        owner = json.loads(remote.read_text(f"{lock}/owner.json"))
        assert owner["pid"] == os.getpid()


def test_lock_without_owner_record_is_stale_only_when_old(
    remote: SSHHost, lock_target: str
) -> None:
    lock = _plant_lock(remote, lock_target, None)
    with pytest.raises(TaskLifecycleError, match="no readable owner record"):
        HostLock(remote, lock_target, timeout=0).acquire()
    assert remote.is_dir(lock)
    with HostLock(remote, lock_target, timeout=0, orphan_grace=-1):
        assert remote.is_file(f"{lock}/owner.json")
    assert not remote.exists(lock)


def test_waiting_ends_at_the_timeout_and_tells_once(
    remote: SSHHost, lock_target: str
) -> None:
    told: list[str] = []
    with HostLock(remote, lock_target):
        start = time.monotonic()
        with pytest.raises(TaskLifecycleError, match=r"within 0\.5 seconds"):
            HostLock(remote, lock_target, timeout=0.5, on_wait=told.append).acquire()
        assert time.monotonic() - start >= 0.5
    assert len(told) == 1 and told[0].startswith(
        f"Waiting for the lock {lock_target}.lock on {remote!r} (held by pid="
    )


def test_release_leaves_a_lock_that_is_no_longer_ours(
    remote: SSHHost, lock_target: str, caplog: pytest.LogCaptureFixture
) -> None:
    mine = HostLock(remote, lock_target)
    mine.acquire()
    # Someone judged it stale and took it over meanwhile.
    remote.remove_tree(f"{lock_target}.lock", base=os.path.dirname(lock_target))
    other = HostLock(remote, lock_target, timeout=0)
    other.acquire()
    caplog.set_level(logging.WARNING, "fractal_core.collection.host_lock")
    mine.release()
    assert "was no longer ours" in caplog.text
    owner = json.loads(remote.read_text(f"{lock_target}.lock/owner.json"))
    assert owner["token"] == other.token
    other.release()
    assert not remote.exists(f"{lock_target}.lock")
