"""Collecting a package that is already collected: reuse the recorded group.

A notebook cell that collects a package is re-run often; when the package's
folder already holds a valid record of the same package, version and options,
collection hands that group back with an `OK` activity instead of refusing.
A folder without a record (or with other options, or being built) is still
refused with `TaskGroupPathExists`.
"""

from __future__ import annotations

from typing import Literal

from ..domain.task_group import TaskGroup
from ..hosts import Host
from .activity import ActivityLog
from .discovery import load_recorded
from .errors import InvalidCollectionRequest
from .errors import TaskGroupEnvironmentMissing
from .errors import TaskGroupPathExists
from .errors import TaskGroupRecordError
from .ownership import is_stale
from .ownership import read_owner
from .result import OperationResult

IfExists = Literal["error", "reuse"]
"""What collection does when the group's folder holds a collected group."""

_OPTIONS = (
    "origin",
    "python_version",
    "pixi_version",
    "pip_extras",
    "pinned_package_versions_pre",
    "pinned_package_versions_post",
)


def validate_if_exists(value: str) -> IfExists:
    """`"error"` or `"reuse"`, else `InvalidCollectionRequest`."""
    if value == "error":
        return "error"
    if value == "reuse":
        return "reuse"
    raise InvalidCollectionRequest(
        f"Invalid if_exists={value!r}: must be 'error' or 'reuse'."
    )


def _differences(found: TaskGroup, wanted: TaskGroup) -> list[str]:
    return [
        f"{name}={getattr(found, name)!r} (asked: {getattr(wanted, name)!r})"
        for name in _OPTIONS
        if getattr(found, name) != getattr(wanted, name)
    ]


def reusable_group(wanted: TaskGroup, host: Host) -> TaskGroup:
    """The group recorded in `wanted.path` if it is the same collection, else raise."""
    path = str(wanted.path)
    try:
        found = load_recorded(path, host)
    except (TaskGroupRecordError, TaskGroupEnvironmentMissing) as e:
        raise TaskGroupPathExists(
            f"{path} already exists and cannot be reused: {e}"
        ) from e
    if (found.pkg_name, found.version) != (wanted.pkg_name, wanted.version):
        raise TaskGroupPathExists(
            f"{path} already exists and holds {found.pkg_name} {found.version}."
        )
    diffs = _differences(found, wanted)
    if diffs:
        raise TaskGroupPathExists(
            f"{path} already exists, collected with other options: "
            f"{'; '.join(diffs)}. Delete that group to collect it with these options."
        )
    return found


def existing_group(
    wanted: TaskGroup, host: Host, if_exists: IfExists
) -> TaskGroup | None:
    """Before collecting: None if the folder is free (or stale), else the group.

    Raises `TaskGroupPathExists` when the folder is being built, when
    `if_exists="error"`, or when it cannot be reused.
    """
    path = str(wanted.path)
    if not host.exists(path) or is_stale(host, path):
        return None
    owner = read_owner(host, path)
    if owner is not None:
        raise TaskGroupPathExists(
            f"{path} already exists (being built by {owner.describe()})."
        )
    if if_exists == "error":
        raise TaskGroupPathExists(f"{path} already exists.")
    return reusable_group(wanted, host)


def reused_result(group: TaskGroup, log: ActivityLog) -> OperationResult:
    """End `log` OK with "already collected at <path>" and hand `group` back."""
    note = "" if group.active else " (inactive: reactivate it to run its tasks)"
    log.write(
        f"Task group {group.pkg_name} (version {group.version}) already collected "
        f"at {group.path}{note}: reusing it."
    )
    log.succeed()
    return OperationResult(log.activity, group)
