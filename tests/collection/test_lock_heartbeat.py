"""The heartbeat of `HostLock`, on this machine and over the session's real sshd.

A held lock refreshes `<lock>/heartbeat` from a thread of its own; a waiter takes
over a foreign lock whose heartbeat is stale, and keeps today's rules for a lock
without heartbeat. Foreign and old locks are planted as another machine (or an
older version) would have left them; ages are set with `touch -d` on the host's
own clock, so no test waits for a heartbeat to grow old.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import replace
from pathlib import Path

import pytest

from fractal_core.collection import TaskLifecycleError
from fractal_core.collection.activity import ActivityLog
from fractal_core.collection.host_lock import HostLock
from fractal_core.collection.lock_heartbeat import HEARTBEAT_FILE
from fractal_core.collection.locking import run_locked
from fractal_core.collection.ownership import OwnerRecord
from fractal_core.collection.result import OperationResult
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.hosts import CommandResult
from fractal_core.hosts import Host
from fractal_core.hosts import HostError
from fractal_core.hosts import LocalHost
from fractal_core.hosts import SSHHost
from fractal_core.hosts.base import OutputCallback

from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import wait_for

FOREIGN_HOST = "login2.cluster.example"
INTERVAL = 0.1
_AGE_BACK = 'touch -d "@$(( $(date +%s) - $2 ))" -- "$1"'


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest) -> Host:
    """LocalHost, or the test user of the session's sshd (skipped without one)."""
    if request.param == "local":
        return LocalHost()
    return request.getfixturevalue("remote")  # type: ignore[no-any-return]


@pytest.fixture
def target(host: Host, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A task-group path whose parent exists on `host`."""
    if isinstance(host, SSHHost):
        base = request.getfixturevalue("remote_settings").base_dir
    else:
        base = str(tmp_path)
    host.mkdir(f"{base}/1/pkg")
    return f"{base}/1/pkg/1.0"


def _age_back(host: Host, path: str, seconds: int) -> None:
    """Set the mtime of `path` to `seconds` ago on the host's clock."""
    host.run(["sh", "-c", _AGE_BACK, "age-back", path, str(seconds)]).check()


def _foreign(target: str, token: str = "f" * 32) -> OwnerRecord:
    return replace(OwnerRecord.current(token, target), host=FOREIGN_HOST, pid=4242)


def _plant(
    host: Host,
    target: str,
    record: OwnerRecord,
    heartbeat: tuple[int, str] | None,
    folder_age: int = 0,
) -> str:
    """A lock folder as another process left it; `heartbeat` is (age, content)."""
    lock = f"{target}.lock"
    host.mkdir(lock)
    host.write_text(f"{lock}/owner.json", json.dumps(asdict(record)))
    if heartbeat is not None:
        host.write_text(f"{lock}/{HEARTBEAT_FILE}", heartbeat[1])
        _age_back(host, f"{lock}/{HEARTBEAT_FILE}", heartbeat[0])
    if folder_age:
        _age_back(host, lock, folder_age)
    return lock


def _heartbeat_age(host: Host, target: str) -> float:
    """The age of the heartbeat of `target`'s lock, as a waiter reads it."""
    holder = HostLock(host, target).holder()
    assert holder is not None and holder.heartbeat_age is not None
    return holder.heartbeat_age


def _heartbeat_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith("fractal-lock-heartbeat")
    ]


def _owner(host: Host, lock: str) -> dict[str, object]:
    return json.loads(host.read_text(f"{lock}/owner.json"))  # type: ignore[no-any-return]


def test_heartbeat_advances_while_held_and_stops_at_release(
    host: Host, target: str
) -> None:
    lock = HostLock(host, target, heartbeat_interval=INTERVAL)
    assert lock.heartbeat is not None
    with lock as folder:
        assert lock.heartbeat.running
        holder = HostLock(host, target).holder()
        assert holder is not None and holder.heartbeat_interval == INTERVAL
        _age_back(host, f"{folder}/{HEARTBEAT_FILE}", 1000)
        assert _heartbeat_age(host, target) >= 1000
        wait_for(
            lambda: _heartbeat_age(host, target) < 100,
            "the heartbeat to be refreshed",
        )
        assert lock.heartbeat.beats >= 1
    assert not lock.heartbeat.running and _heartbeat_threads() == []
    assert not host.exists(folder)
    # Even a lock folder carrying our token again gets no refresh any more.
    beats = lock.heartbeat.beats
    _plant(host, target, _foreign(target, lock.token), (1000, "0.1"))
    time.sleep(10 * INTERVAL)
    assert _heartbeat_age(host, target) >= 1000
    assert lock.heartbeat.beats == beats


def test_foreign_lock_with_a_stale_heartbeat_is_taken_over(
    host: Host, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = _plant(host, target, _foreign(target), (300, "15"))
    told: list[str] = []
    caplog.set_level(logging.WARNING, "fractal_core.collection.host_lock")
    # Defaults: no foreign_stale_after; heartbeat stale after 120 s.
    with HostLock(host, target, timeout=0, on_wait=told.append) as taken:
        assert taken == lock
        owner = _owner(host, lock)
        assert owner["pid"] == os.getpid() and owner["token"] != "f" * 32
        assert host.is_file(f"{lock}/{HEARTBEAT_FILE}")
    assert f"Took over the stale lock {lock}" in caplog.text
    assert f"pid=4242 on host {FOREIGN_HOST}" in caplog.text
    assert re.search(r"last heartbeat 30\d s ago", caplog.text)
    assert len(told) == 1 and told[0].startswith(f"Took over the stale lock {lock}")
    assert not host.exists(lock)


def test_foreign_lock_with_a_fresh_heartbeat_is_not_taken_over(
    host: Host, target: str
) -> None:
    lock = _plant(host, target, _foreign(target), (0, "15"), folder_age=1000)
    with pytest.raises(TaskLifecycleError) as e:
        HostLock(host, target, timeout=0, heartbeat_stale_after=60).acquire()
    assert f"lock {lock} on {host!r}" in str(e.value)
    assert f"pid=4242 on host {FOREIGN_HOST}" in str(e.value)
    assert "last heartbeat" in str(e.value)
    told: list[str] = []
    with pytest.raises(TaskLifecycleError, match=r"within 0\.3 seconds"):
        HostLock(host, target, timeout=0.3, on_wait=told.append).acquire()
    assert len(told) == 1 and f"(held by pid=4242 on host {FOREIGN_HOST}" in told[0]
    assert _owner(host, lock)["token"] == "f" * 32


def test_a_heartbeat_is_never_stale_sooner_than_three_holder_intervals(
    host: Host, target: str
) -> None:
    lock = _plant(host, target, _foreign(target), (50, "100"))
    with pytest.raises(TaskLifecycleError, match=FOREIGN_HOST):
        HostLock(host, target, timeout=0, heartbeat_stale_after=1).acquire()
    host.write_text(f"{lock}/{HEARTBEAT_FILE}", "10")
    _age_back(host, f"{lock}/{HEARTBEAT_FILE}", 50)
    with HostLock(host, target, timeout=0, heartbeat_stale_after=1):
        assert _owner(host, lock)["pid"] == os.getpid()


def test_lock_without_heartbeat_keeps_the_old_rules(host: Host, target: str) -> None:
    lock = _plant(host, target, _foreign(target), None, folder_age=1000)
    with pytest.raises(TaskLifecycleError) as e:
        HostLock(host, target, timeout=0, heartbeat_stale_after=1).acquire()
    assert f"pid=4242 on host {FOREIGN_HOST}" in str(e.value)
    assert "last heartbeat" not in str(e.value)
    assert _owner(host, lock)["token"] == "f" * 32
    with HostLock(host, target, timeout=0, foreign_stale_after=500):
        assert _owner(host, lock)["pid"] == os.getpid()
    assert not host.exists(lock)


def test_heartbeat_can_be_turned_off(host: Host, target: str) -> None:
    lock = HostLock(host, target, heartbeat_interval=None)
    with lock as folder:
        assert lock.heartbeat is None and _heartbeat_threads() == []
        assert host.is_file(f"{folder}/owner.json")
        assert not host.exists(f"{folder}/{HEARTBEAT_FILE}")
    with pytest.raises(ValueError, match="heartbeat_interval must be positive"):
        HostLock(host, target, heartbeat_interval=0)


def test_heartbeat_leaves_a_lock_taken_over_meanwhile(
    host: Host, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "fractal_core.collection")
    mine = HostLock(host, target, heartbeat_interval=INTERVAL)
    folder = mine.__enter__()
    try:
        # Another machine judged it stale and took it over.
        host.remove_tree(folder, base=os.path.dirname(target))
        _plant(host, target, _foreign(target), (1000, "15"))
        wait_for(lambda: "is no longer ours" in caplog.text, "the heartbeat to notice")
        assert _heartbeat_age(host, target) >= 1000
    finally:
        mine.__exit__(None, None, None)
    assert caplog.text.count("is no longer ours (taken over?)") == 1
    assert "was no longer ours at release" in caplog.text
    assert _owner(host, folder)["token"] == "f" * 32


class BrokenLinkHost(LocalHost):
    """LocalHost whose heartbeat commands fail while `broken` is set.

    Stands in for a dropped SSH connection: the shared sshd cannot be cut for
    one test without disturbing the others using it.
    """

    broken = True

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        if self.broken and "fractal-lock-heartbeat" in argv:
            raise HostError("connection lost (simulated)")
        return super().run(argv, env=env, cwd=cwd, timeout=timeout, on_output=on_output)


def test_heartbeat_failures_are_logged_and_retried_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = BrokenLinkHost()
    target = str(tmp_path / "pkg" / "1.0")
    caplog.set_level(logging.INFO, "fractal_core.collection.lock_heartbeat")
    lock = HostLock(host, target, heartbeat_interval=INTERVAL)
    beat = lock.heartbeat
    assert beat is not None
    with lock as folder:
        wait_for(
            lambda: caplog.text.count("connection lost (simulated)") >= 2,
            "two failed heartbeats",
        )
        assert beat.running and beat.beats == 0
        failures = [r for r in caplog.records if "failed" in r.getMessage()]
        assert failures and all(r.levelno == logging.WARNING for r in failures)
        _age_back(host, f"{folder}/{HEARTBEAT_FILE}", 1000)
        host.broken = False
        wait_for(lambda: beat.beats >= 1, "the heartbeat to come back")
        assert _heartbeat_age(host, target) < 100
    assert "is back" in caplog.text
    assert not beat.running and not os.path.exists(folder)


def test_collection_settings_reach_the_lock(
    remote: SSHHost, remote_settings: object
) -> None:
    """`run_locked` takes the heartbeat settings from `CollectionSettings`."""

    settings = remote_settings.model_copy(  # type: ignore[attr-defined]
        update={"lock_heartbeat_interval": None}
    )
    target = f"{settings.base_dir}/1/pkg-settings/1.0"
    remote.mkdir(f"{settings.base_dir}/1/pkg-settings")
    seen: dict[str, bool] = {}
    activity = TaskGroupActivity(
        pkg_name="pkg-settings", version="1.0", status="pending", action="collect"
    )

    def body(log: ActivityLog) -> OperationResult:
        seen["heartbeat"] = remote.exists(f"{target}.lock/{HEARTBEAT_FILE}")
        seen["owner"] = remote.exists(f"{target}.lock/owner.json")
        return OperationResult(log.activity, None)

    run_locked(target, settings, ActivityLog(activity), body, None, host=remote)
    assert seen == {"heartbeat": False, "owner": True}
