"""One lock per task-group folder, held for a whole operation.

On this machine (`LocalHost`, or no host) it is a `filelock.FileLock`: the file
`<path>.lock` beside the folder (it must survive removal of the folder itself),
or a file under `lock_dir` when one is configured. On any other host (`SSHHost`,
`SudoHost`) it is a `HostLock`: the folder `<path>.lock` created on that host,
through the host, with an owner record inside, so that processes on every
machine reaching the host take turns; `lock_dir` does not apply there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock
from filelock import Timeout

from ..domain.task_group import TaskGroup
from ..hosts import Host
from ..hosts import LocalHost
from .activity import ActivityLog
from .activity import record_failure
from .config import CollectionSettings
from .errors import TaskLifecycleError
from .host_lock import HostLock
from .lock_heartbeat import HEARTBEAT_INTERVAL
from .lock_heartbeat import HEARTBEAT_STALE_AFTER
from .result import OperationResult


def lock_path(path: str, lock_dir: str | None = None) -> str:
    """Where the lock of task-group folder `path` lives on this machine."""
    if lock_dir is None:
        return path.rstrip("/") + ".lock"
    digest = hashlib.sha256(path.encode()).hexdigest()[:32]
    return os.path.join(lock_dir, f"taskgroup-{digest}.lock")


@contextmanager
def task_group_lock(
    path: str,
    *,
    lock_dir: str | None = None,
    timeout: float = -1,
    on_wait: Callable[[str], None] | None = None,
    host: Host | None = None,
    heartbeat_interval: float | None = HEARTBEAT_INTERVAL,
    heartbeat_stale_after: float | None = HEARTBEAT_STALE_AFTER,
) -> Iterator[str]:
    """Hold the lock of `path` (creating the lock's folder); yield the lock path.

    `on_wait`, if given, is called once with a message when the lock is busy.
    A `host` other than `LocalHost` gets a `HostLock` on that host.
    """
    if host is not None and not isinstance(host, LocalHost):
        with HostLock(
            host,
            path,
            timeout=timeout,
            on_wait=on_wait,
            heartbeat_interval=heartbeat_interval,
            heartbeat_stale_after=heartbeat_stale_after,
        ) as folder:
            yield folder
        return
    target = lock_path(path, lock_dir)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    lock = FileLock(target)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(f"Waiting for the lock {target} (another operation holds it).")
        try:
            lock.acquire(timeout=timeout)
        except Timeout as e:
            raise TaskLifecycleError(
                f"Could not acquire the lock {target} within {timeout} seconds."
            ) from e
    try:
        yield target
    finally:
        lock.release()


def run_locked(
    path: str,
    settings: CollectionSettings,
    log: ActivityLog,
    body: Callable[[ActivityLog], OperationResult],
    group_on_error: TaskGroup | None,
    host: Host | None = None,
) -> OperationResult:
    """Run `body` holding the lock of `path` (on `host`); never raise.

    An error escaping `body` (or a lock timeout) fails the activity unless it
    already ended, and hands back `group_on_error` as the operation's group.
    An interruption (KeyboardInterrupt, SystemExit, ...) is recorded the same
    way, then re-raised once the lock is released.
    """
    try:
        with task_group_lock(
            path,
            lock_dir=settings.lock_dir,
            timeout=settings.lock_timeout,
            on_wait=log.write,
            host=host,
            heartbeat_interval=settings.lock_heartbeat_interval,
            heartbeat_stale_after=settings.lock_heartbeat_stale_after,
        ):
            return body(log)
    except BaseException as e:
        if log.activity.is_finished:
            if isinstance(e, Exception):
                return OperationResult(log.activity, group_on_error)
            raise
        record_failure(log, e)  # re-raises anything but an Exception
        return OperationResult(log.activity, group_on_error)
