"""Collect a task package into a fresh venv: from the package index or a wheel file.

Inputs are validated (and, for PyPI, the version resolved) before anything is
created: a bad request raises at once. From there on the operation never raises:
it holds the task-group folder's file lock, records each step on a `collect`
activity, and on any failure removes the folder it created and returns a failed
activity with no task group.

A folder that already holds a recorded group of the same package, version and
options is reused (`if_exists="reuse"`, the default): the operation ends `OK`
with that group and "already collected at <path>"; `if_exists="error"` refuses
it with `TaskGroupPathExists`, as the reference does. A successful collection
writes the group's record (`records.RECORD_FILENAME`) before it ends.

Concurrency: two processes collecting the same package and version take the
same lock; the second waits, then finds the folder present and reuses the
first one's group (or, with `if_exists="error"`, ends with a failed activity
"... already exists."), never touching the first one's folder.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Mapping

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivityAction
from ..domain.task_group import TaskGroupOrigin
from ..hosts import Host
from ..hosts import LocalHost
from .activity import ActivityListener
from .activity import ActivityLog
from .activity import record_failure
from .config import CollectionSettings
from .errors import InvalidCollectionRequest
from .errors import TaskGroupPathExists
from .locking import run_locked
from .manifest_tasks import manifest_from_wheel
from .manifest_tasks import tasks_from_installed_manifest
from .ownership import claim
from .ownership import recover_stale
from .ownership import release
from .ownership import release_if_gone
from .pypi import resolve_version
from .records import FREEZE_FILENAME
from .records import write_record
from .result import OperationResult
from .reuse import IfExists
from .reuse import existing_group
from .reuse import reusable_group
from .reuse import reused_result
from .reuse import validate_if_exists
from .specs import parse_wheel_name
from .specs import task_group_path
from .specs import validate_extras
from .specs import validate_package_name
from .specs import validate_pins
from .specs import validate_python_version
from .specs import validate_version
from .steps import StepRunner
from .steps import venv_python

logger = logging.getLogger(__name__)


def group_folder(
    settings: CollectionSettings, user_id: int | None, pkg: str, ver: str
) -> str:
    """`<base>/<user_id>/<pkg>/<version>` (no user level when `user_id` is None)."""
    return task_group_path(settings.base_dir, user_id, pkg, ver)


def prepare_new_folder(
    host: Host,
    group: TaskGroup,
    settings: CollectionSettings,
    log: ActivityLog,
    if_exists: IfExists,
) -> OperationResult | None:
    """Under the lock: recover a stale half-built folder; None to go on building.

    When the folder exists (another process collected it meanwhile), return
    the operation's result: the reused group, or a failed activity.
    """
    path = str(group.path)
    recover_stale(host, path, settings.base_dir, log.write)
    if not host.exists(path):
        return None
    if if_exists == "reuse":
        try:
            return reused_result(reusable_group(group, host), log)
        except TaskGroupPathExists as e:
            log.fail(str(e))
            return OperationResult(log.activity, None)
    log.fail(f"{path} already exists.")
    return OperationResult(log.activity, None)


def start_collection(
    group: TaskGroup,
    host: Host,
    if_exists: IfExists,
    on_change: ActivityListener | None,
) -> OperationResult | None:
    """Before the lock: the reused group's result, None to collect, or raise."""
    found = existing_group(group, host, if_exists)
    if found is None:
        return None
    log = ActivityLog.for_group(TaskGroupActivityAction.COLLECT, found, on_change)
    return reused_result(found, log)


def record_collected(group: TaskGroup, host: Host, log: ActivityLog) -> None:
    """Write the record of a freshly collected group into its folder."""
    written = write_record(group, host, str(group.path))
    log.write(f"Wrote the task-group record {written}")


def abandon_new_folder(
    host: Host, path: str, created: bool, settings: CollectionSettings, log: ActivityLog
) -> None:
    """After a failure or interruption: remove the half-built folder and its record."""
    if created and host.exists(path):
        try:
            host.remove_tree(path, base=settings.base_dir)
            log.write(f"Removed {path}")
        except Exception as rm_error:
            log.write(f"Removing folder failed: {rm_error}", logging.ERROR)
    try:
        release_if_gone(host, path)
    except Exception as rm_error:
        log.write(f"Removing the owner record failed: {rm_error}", logging.ERROR)


def _new_pip_group(
    *,
    origin: TaskGroupOrigin,
    pkg_name: str,
    version: str,
    settings: CollectionSettings,
    host: Host,
    python_version: str,
    extras: str | None,
    pins_pre: Mapping[str, str] | None,
    pins_post: Mapping[str, str] | None,
    user_id: int | None,
    user_group_id: int | None,
    resource_id: int | None,
) -> TaskGroup:
    path = group_folder(settings, user_id, pkg_name, version)
    return TaskGroup(
        origin=origin,
        pkg_name=pkg_name,
        version=version,
        python_version=python_version,
        path=path,
        venv_path=posixpath.join(path, "venv"),
        pip_extras=extras,
        pinned_package_versions_pre=dict(pins_pre or {}),
        pinned_package_versions_post=dict(pins_post or {}),
        user_id=user_id,
        user_group_id=user_group_id,
        resource_id=resource_id,
    )


def _validate_common(
    extras: str | None,
    pins_pre: Mapping[str, str] | None,
    pins_post: Mapping[str, str] | None,
    python_version: str | None,
    settings: CollectionSettings,
) -> tuple[str | None, str, str]:
    extras = validate_extras(extras)
    validate_pins(pins_pre, field="pinned_package_versions_pre")
    validate_pins(pins_post, field="pinned_package_versions_post")
    version, interpreter = settings.python.interpreter(
        validate_python_version(python_version)
    )
    return extras, version, interpreter


def collect_pypi(
    package: str,
    *,
    settings: CollectionSettings,
    host: Host | None = None,
    version: str | None = None,
    extras: str | None = None,
    python_version: str | None = None,
    pinned_package_versions_pre: Mapping[str, str] | None = None,
    pinned_package_versions_post: Mapping[str, str] | None = None,
    user_id: int | None = None,
    user_group_id: int | None = None,
    resource_id: int | None = None,
    on_change: ActivityListener | None = None,
    if_exists: IfExists = "reuse",
) -> OperationResult:
    """Collect `package` (version resolved on the index when omitted).

    `if_exists`: see the module docstring ("reuse" or "error").
    """
    host = host or LocalHost()
    if_exists = validate_if_exists(if_exists)
    pkg_name = validate_package_name(package)
    if version is not None:
        validate_version(version, field="package_version")
    extras, py_version, base_python = _validate_common(
        extras,
        pinned_package_versions_pre,
        pinned_package_versions_post,
        python_version,
        settings,
    )
    resolved = resolve_version(
        host,
        base_python,
        pkg_name,
        version,
        index_url=settings.index_url,
        timeout=settings.step_timeout,
        reference_rules=settings.reference_version_rules,
    )
    group = _new_pip_group(
        origin=TaskGroupOrigin.PYPI,
        pkg_name=pkg_name,
        version=resolved,
        settings=settings,
        host=host,
        python_version=py_version,
        extras=extras,
        pins_pre=pinned_package_versions_pre,
        pins_post=pinned_package_versions_post,
        user_id=user_id,
        user_group_id=user_group_id,
        resource_id=resource_id,
    )
    reused = start_collection(group, host, if_exists, on_change)
    if reused is not None:
        return reused
    return run_pip_collection(
        group, settings, host, base_python, None, on_change, if_exists
    )


def collect_wheel(
    wheel_path: str | os.PathLike[str],
    *,
    settings: CollectionSettings,
    host: Host | None = None,
    extras: str | None = None,
    python_version: str | None = None,
    pinned_package_versions_pre: Mapping[str, str] | None = None,
    pinned_package_versions_post: Mapping[str, str] | None = None,
    user_id: int | None = None,
    user_group_id: int | None = None,
    resource_id: int | None = None,
    check_manifest_first: bool = True,
    on_change: ActivityListener | None = None,
    if_exists: IfExists = "reuse",
) -> OperationResult:
    """Collect a local wheel file; it is copied into the task-group folder.

    With `check_manifest_first` the manifest inside the wheel is validated (and
    its tasks dry-run built, so repeated names are refused) before installing.
    `if_exists`: see the module docstring ("reuse" or "error").
    """
    host = host or LocalHost()
    if_exists = validate_if_exists(if_exists)
    wheel_path = os.fspath(wheel_path)
    name = parse_wheel_name(os.path.basename(wheel_path))
    if not os.path.isfile(wheel_path):
        raise InvalidCollectionRequest(
            f"Invalid wheel file={wheel_path!r}: not a file."
        )
    extras, py_version, base_python = _validate_common(
        extras,
        pinned_package_versions_pre,
        pinned_package_versions_post,
        python_version,
        settings,
    )
    if check_manifest_first:
        manifest_from_wheel(wheel_path, name.version)
    group = _new_pip_group(
        origin=TaskGroupOrigin.WHEELFILE,
        pkg_name=name.pkg_name,
        version=name.version,
        settings=settings,
        host=host,
        python_version=py_version,
        extras=extras,
        pins_pre=pinned_package_versions_pre,
        pins_post=pinned_package_versions_post,
        user_id=user_id,
        user_group_id=user_group_id,
        resource_id=resource_id,
    )
    reused = start_collection(group, host, if_exists, on_change)
    if reused is not None:
        return reused
    return run_pip_collection(
        group, settings, host, base_python, wheel_path, on_change, if_exists
    )


def run_pip_collection(
    group: TaskGroup,
    settings: CollectionSettings,
    host: Host,
    base_python: str,
    wheel_path: str | None,
    on_change: ActivityListener | None = None,
    if_exists: IfExists = "error",
) -> OperationResult:
    """The background part of pip collection (locked, recorded, cleaned on failure)."""
    assert group.path is not None and group.venv_path is not None
    log = ActivityLog.for_group(TaskGroupActivityAction.COLLECT, group, on_change)
    return run_locked(
        group.path,
        settings,
        log,
        lambda log: _collect_locked(
            group, settings, host, base_python, wheel_path, log, if_exists
        ),
        None,
        host=host,
    )


def _collect_locked(
    group: TaskGroup,
    settings: CollectionSettings,
    host: Host,
    base_python: str,
    wheel_path: str | None,
    log: ActivityLog,
    if_exists: IfExists,
) -> OperationResult:
    path, venv_path = str(group.path), str(group.venv_path)
    early = prepare_new_folder(host, group, settings, log, if_exists)
    if early is not None:
        return early
    runner = StepRunner(host, log, settings)
    created = False
    try:
        log.ongoing()
        claim(host, path, runner.token, path)
        created = True
        host.mkdir(path)
        if wheel_path is not None:
            dest = posixpath.join(path, os.path.basename(wheel_path))
            host.put(wheel_path, dest)
            group.archive_path = dest
            log.write(f"Copied wheel file to {dest}")
        python = runner.create_venv(base_python, venv_path)
        runner.upgrade_pip(python)
        runner.pip_install(
            "install pinned packages (pre)", python, group.pinned_requirements("pre")
        )
        runner.pip_install("install package", python, [group.pip_install_string()])
        runner.pip_install(
            "install pinned packages (post)", python, group.pinned_requirements("post")
        )
        freeze = runner.pip_freeze(python)
        manifest_path, installed = runner.locate_manifest(python, group.pkg_name)
        log.write(f"Manifest: {manifest_path} (installed version {installed})")
        tasks = tasks_from_installed_manifest(
            host, manifest_path, python=venv_python(venv_path), version=group.version
        )
        group.set_task_list(tasks)
        group.env_info = freeze
        host.write_text(posixpath.join(path, FREEZE_FILENAME), freeze)
        log.write(f"Collected {len(tasks)} tasks: {[t.name for t in tasks]}")
        record_collected(group, host, log)
        release(host, path)
        log.succeed()
        return OperationResult(log.activity, group)
    except BaseException as e:
        abandon_new_folder(host, path, created, settings, log)
        record_failure(log, e)
        return OperationResult(log.activity, None)
