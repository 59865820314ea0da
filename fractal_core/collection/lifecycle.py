"""Deactivate, reactivate and delete a collected task group.

State checks that the reference answers with HTTP 422 raise `TaskGroupStateError`
at once; everything after them is recorded on an activity and never raises.
Operations update the given `TaskGroup` in place and hand it back (None after a
successful deletion). Each one holds the task-group folder's file lock.

Deviations from 2.17.0 (all FOLLOW or weak-point fixes): a failed deactivation
leaves the group active (8.7); the group's folder must lie inside the configured
base folder (8.8); deletion removes files before reporting the group gone and
treats an already missing folder as success (weak point 5); the pre-2.9 wheel
path is really rewritten in the frozen requirements (weak point 6); any direct
URL requirement other than a wheel inside the group folder blocks deactivation
(weak point 20, which covers the reference's `github.com` rule).
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable
from functools import partial

from packaging.utils import canonicalize_name

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivityAction
from ..domain.task_group import TaskGroupOrigin
from ..hosts import Host
from ..hosts import LocalHost
from ..hosts import is_strictly_inside
from ..types.strings import has_dotdot_component
from .activity import ActivityListener
from .activity import ActivityLog
from .activity import record_failure
from .config import CollectionSettings
from .errors import CollectionStepError
from .errors import InvalidCollectionRequest
from .errors import TaskGroupStateError
from .locking import run_locked
from .ownership import claim
from .ownership import recover_stale
from .ownership import release
from .ownership import remove_partial
from .pip_collect import FREEZE_FILENAME
from .pip_collect import group_folder
from .pixi import deactivate_pixi_locked
from .pixi import reactivate_pixi_locked
from .records import custom_record_folder
from .records import record_path
from .records import refresh_record
from .result import OperationResult
from .steps import StepRunner
from .steps import venv_python

logger = logging.getLogger(__name__)

Action = TaskGroupActivityAction


def check_group_path(group: TaskGroup, settings: CollectionSettings) -> str:
    """The group's folder, refused unless strictly inside `settings.base_dir`."""
    if group.path is None:
        raise TaskGroupStateError(
            f"Task group {group.pkg_name!r} (origin {group.origin}) has no path."
        )
    if has_dotdot_component(group.path) or not is_strictly_inside(
        group.path, settings.base_dir
    ):
        raise TaskGroupStateError(
            f"Task-group path={group.path!r} is not inside the base folder "
            f"{settings.base_dir!r}."
        )
    return posixpath.normpath(group.path)


def own_folder_candidates(group: TaskGroup, settings: CollectionSettings) -> set[str]:
    """The folders collection would give this group (as stored, and canonical name)."""
    names = {group.pkg_name, canonicalize_name(group.pkg_name)}
    found = set()
    for name in names:
        try:
            found.add(group_folder(settings, group.user_id, name, group.version))
        except InvalidCollectionRequest:
            continue
    return found


def check_own_folder(group: TaskGroup, settings: CollectionSettings, host: Host) -> str:
    """The group's folder, refused unless it is exactly the group's own folder.

    "Own folder" is where collection puts a new group of this package, version
    and owner (`group_folder`), reached without any symlink below the base
    folder. This refuses the base folder, a parent holding other groups, a
    sibling group's folder, anything outside the base and symlinked paths,
    before anything is removed.
    """
    path = check_group_path(group, settings)
    expected = own_folder_candidates(group, settings)
    if path not in expected:
        raise TaskGroupStateError(
            f"Refusing to delete task-group path={group.path!r}: it is not the "
            f"group's own folder (expected {' or '.join(sorted(expected))!r} for "
            f"pkg_name={group.pkg_name!r}, version={group.version!r}, "
            f"user_id={group.user_id!r})."
        )
    relative = posixpath.relpath(path, settings.base_dir)
    real_base = host.realpath(settings.base_dir)
    if host.realpath(path) != posixpath.join(real_base, relative):
        raise TaskGroupStateError(
            f"Refusing to delete task-group path={group.path!r}: it goes through "
            f"a symlink (resolves to {host.realpath(path)!r})."
        )
    return path


def _flag_only(
    group: TaskGroup,
    action: Action,
    active: bool,
    settings: CollectionSettings,
    host: Host,
    on_change: ActivityListener | None,
) -> OperationResult:
    """`other` groups: flip the flag (and their record); an immediate OK activity."""
    log = ActivityLog.for_group(action, group, on_change)
    group.active = active
    log.write(
        f"Task group has task_group.origin='other', set task_group.active to "
        f"{active} and exit."
    )
    refresh_record(group, host, settings.base_dir, log)
    log.succeed()
    return OperationResult(log.activity, group)


def _locked(
    group: TaskGroup,
    settings: CollectionSettings,
    action: Action,
    on_change: ActivityListener | None,
    body: Callable[[ActivityLog], OperationResult],
    host: Host,
) -> OperationResult:
    """Start the activity, take the lock (on `host`), run `body`; record errors."""
    log = ActivityLog.for_group(action, group, on_change)
    return run_locked(str(group.path), settings, log, body, group, host=host)


def direct_references_outside(env_info: str, folder: str) -> list[str]:
    """Frozen requirements pointing to a URL other than a file inside `folder`."""
    bad = []
    for line in env_info.splitlines():
        if " @ " not in line:
            continue
        url = line.split(" @ ", 1)[1].strip()
        if url.startswith("file://"):
            target = url[len("file://") :].split("#", 1)[0]
            if is_strictly_inside(target, folder):
                continue
        bad.append(line.strip())
    return bad


def deactivate(
    group: TaskGroup,
    *,
    settings: CollectionSettings,
    host: Host | None = None,
    on_change: ActivityListener | None = None,
) -> OperationResult:
    """Remove the group's environment, keeping what reactivation needs."""
    host = host or LocalHost()
    if not group.active:
        raise TaskGroupStateError(
            "Cannot deactivate a task group with task_group.active=False."
        )
    if group.origin == TaskGroupOrigin.OTHER:
        return _flag_only(group, Action.DEACTIVATE, False, settings, host, on_change)
    path = check_group_path(group, settings)
    if group.origin == TaskGroupOrigin.PIXI:
        body = partial(deactivate_pixi_locked, group, settings, host)
    else:
        body = partial(_deactivate_pip, group, settings, host, path=path)
    return _locked(group, settings, Action.DEACTIVATE, on_change, body, host)


def _deactivate_pip(
    group: TaskGroup,
    settings: CollectionSettings,
    host: Host,
    log: ActivityLog,
    path: str,
) -> OperationResult:
    venv = str(group.venv_path)
    group.active = False
    try:
        if not host.exists(venv):
            raise CollectionStepError(f"{venv} does not exist.")
        log.ongoing()
        runner = StepRunner(host, log, settings)
        if group.env_info is None:
            log.write("Recreate pip-freeze information")
            group.env_info = runner.pip_freeze(venv_python(venv))
        if group.origin == TaskGroupOrigin.WHEELFILE:
            _keep_wheel_in_folder(group, host, log, path, settings.step_timeout)
        bad = direct_references_outside(group.env_info, path)
        if bad:
            raise CollectionStepError(
                "Deactivation and reactivation of task packages with direct "
                f"URL dependencies are not currently supported: {bad}. Exit."
            )
        host.write_text(posixpath.join(path, FREEZE_FILENAME), group.env_info)
        host.remove_tree(venv, base=path)
        log.write(f"Removed {venv}")
        refresh_record(group, host, settings.base_dir, log)
        log.succeed()
    except BaseException as e:
        group.active = True  # FOLLOW 8.7: a failed deactivation leaves it active
        record_failure(log, e)
    return OperationResult(log.activity, group)


def _keep_wheel_in_folder(
    group: TaskGroup, host: Host, log: ActivityLog, path: str, timeout: float | None
) -> None:
    """The wheel must live in the group folder; copy it there if it does not."""
    old = group.archive_path
    if old is None or not host.is_file(old):
        raise CollectionStepError(
            f"Invalid wheel path for task group: archive_path={old!r} is unset or "
            "does not exist."
        )
    if posixpath.dirname(old) == path:
        return
    assert group.env_info is not None
    if old not in group.env_info:
        raise CollectionStepError(f"Cannot find {old} in pip-freeze data. Exit.")
    new = posixpath.join(path, posixpath.basename(old))
    log.write(f"Copy wheel {old} into {new}")
    res = host.run(["cp", "--", old, new], timeout=timeout)
    if not res.ok:
        raise CollectionStepError(f"Cannot copy {old} to {new}: {res.stderr}")
    group.env_info = group.env_info.replace(old, new)
    group.archive_path = new


def reactivate(
    group: TaskGroup,
    *,
    settings: CollectionSettings,
    host: Host | None = None,
    on_change: ActivityListener | None = None,
) -> OperationResult:
    """Rebuild the group's environment from its frozen requirements (or pixi lock)."""
    host = host or LocalHost()
    if group.active:
        raise TaskGroupStateError(
            "Cannot reactivate a task group with task_group.active=True."
        )
    if group.origin == TaskGroupOrigin.OTHER:
        return _flag_only(group, Action.REACTIVATE, True, settings, host, on_change)
    if group.env_info is None:
        raise TaskGroupStateError(
            "Cannot reactivate a task group with task_group.env_info=None."
        )
    path = check_group_path(group, settings)
    if group.origin == TaskGroupOrigin.PIXI:
        body = partial(reactivate_pixi_locked, group, settings, host)
    else:
        body = partial(_reactivate_pip, group, settings, host, path=path)
    return _locked(group, settings, Action.REACTIVATE, on_change, body, host)


def _reactivate_pip(
    group: TaskGroup,
    settings: CollectionSettings,
    host: Host,
    log: ActivityLog,
    path: str,
) -> OperationResult:
    venv = str(group.venv_path)
    recover_stale(host, venv, path, log.write)
    if host.exists(venv):
        log.fail(f"{venv} already exists.")
        return OperationResult(log.activity, group)
    created = False
    try:
        log.ongoing()
        _, base_python = settings.python.interpreter(group.python_version)
        freeze_file = posixpath.join(path, FREEZE_FILENAME)
        host.write_text(freeze_file, str(group.env_info))
        runner = StepRunner(host, log, settings)
        claim(host, venv, runner.token, path)
        created = True
        python = runner.create_venv(base_python, venv)
        runner.upgrade_pip(python)
        runner.pip_install_requirements_file(python, freeze_file)
        release(host, venv)
        group.active = True
        refresh_record(group, host, settings.base_dir, log)
        log.succeed()
    except BaseException as e:
        if created:
            remove_partial(host, venv, path, log)
        record_failure(log, e)
    return OperationResult(log.activity, group)


def _remove_custom_record(
    group: TaskGroup, settings: CollectionSettings, host: Host, log: ActivityLog
) -> None:
    """Remove the record folder `collect_custom` wrote for an `other` group, if any."""
    if group.origin != TaskGroupOrigin.OTHER:
        return
    try:
        folder = custom_record_folder(
            settings.base_dir, group.user_id, group.pkg_name, group.version
        )
    except InvalidCollectionRequest:
        return
    if host.is_file(record_path(folder)):
        host.remove_tree(folder, base=settings.base_dir)
        log.write(f"Removed the task-group record folder {folder}")


def delete(
    group: TaskGroup,
    *,
    settings: CollectionSettings,
    host: Host | None = None,
    on_change: ActivityListener | None = None,
) -> OperationResult:
    """Remove the group's folder (never outside the base folder).

    On success the result's `task_group` is None: the caller drops its record.
    On failure the group is handed back unchanged, its folder possibly partial.
    """
    host = host or LocalHost()
    if group.origin == TaskGroupOrigin.OTHER or group.path is None:
        log = ActivityLog.for_group(Action.DELETE, group, on_change)
        log.write("Task group has no folder: nothing to remove.")
        _remove_custom_record(group, settings, host, log)
        log.succeed()
        return OperationResult(log.activity, None)
    path = check_own_folder(group, settings, host)

    def body(log: ActivityLog) -> OperationResult:
        log.ongoing()
        if host.exists(path):
            host.remove_tree(path, base=settings.base_dir)
            log.write(f"Removed {path}")
        else:
            log.write(f"{path} does not exist: nothing to remove.", logging.WARNING)
        log.succeed()
        return OperationResult(log.activity, None)

    return _locked(group, settings, Action.DELETE, on_change, body, host)
