"""Find the task a workflow file refers to, among the task groups a user can see.

Pure functions over small read-only protocols, so that the domain objects, a
repository's rows or test doubles can all be passed in. The rules follow
fractal-server 2.24 (upstream chapter 6.1): the package name and task name
must match, the version must match exactly, a missing version always fails
with the list of available versions, and several groups with the same
version are told apart by ownership (the caller's own group, then the default
user group, then the group of the caller's oldest membership).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from typing import Protocol
from typing import TypeVar

from fractal_core.errors import FractalCoreError
from fractal_core.io.versions import version_sort_key
from fractal_core.types import normalize_package_name

__all__ = [
    "LEGACY_NULL_VERSION",
    "AvailableTask",
    "Ownership",
    "ResolutionFailure",
    "TaskGroupDisambiguationError",
    "TaskGroupLike",
    "TaskLike",
    "TaskReferenceLike",
    "TaskResolution",
    "accessible_task_groups",
    "disambiguate_task_groups",
    "group_task_groups_by_package",
    "group_version",
    "remove_duplicate_task_groups",
    "resolve_task_reference",
    "resolve_task_references",
]

logger = logging.getLogger(__name__)

# fractal-server 2.23 migrated every null task-group version to this string.
LEGACY_NULL_VERSION = "0"


class TaskLike(Protocol):
    """What matching needs from a task: its name (``id``/``is_core`` if present)."""

    @property
    def name(self) -> str: ...


class TaskGroupLike(Protocol):
    """What matching needs from a task group (reference field names)."""

    @property
    def pkg_name(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def active(self) -> bool: ...

    @property
    def task_list(self) -> Sequence[Any]: ...


class TaskReferenceLike(Protocol):
    """A task reference from a workflow file: ``{pkg_name, version, name}``."""

    @property
    def pkg_name(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def name(self) -> str: ...


G = TypeVar("G")


@dataclass(frozen=True)
class Ownership:
    """Who imports, as plain data (the reference reads it from the database).

    ``memberships`` maps each user-group id the caller belongs to onto the time
    the membership was created; older memberships win ties between groups.
    ``user_id=None`` means single-user use: every group is the caller's to see,
    and only the default-group and membership rules disambiguate.
    """

    user_id: int | None = None
    default_group_id: int | None = None
    memberships: Mapping[int, datetime] = field(default_factory=dict)


class TaskGroupDisambiguationError(FractalCoreError):
    """Several task groups share a package and version and none has priority."""

    def __init__(self, groups: Sequence[Any], ownership: Ownership) -> None:
        self.groups = list(groups)
        self.ownership = ownership
        described = ", ".join(_describe_group(g) for g in self.groups)
        super().__init__(
            f"Cannot choose among task groups [{described}] for "
            f"user_id={ownership.user_id}, "
            f"default_group_id={ownership.default_group_id}."
        )


class ResolutionFailure(StrEnum):
    """Why a task reference did not resolve."""

    NO_MATCH = "no_match"  # no group with this package holds a task of this name
    VERSION_MISSING = "version_missing"  # no version given: list what exists
    VERSION_NOT_FOUND = "version_not_found"  # none of the groups has this version
    AMBIGUOUS = "ambiguous"  # same version in several groups, none has priority


@dataclass(frozen=True)
class AvailableTask:
    """One version on offer for a reference that failed (reference: AvailableTask)."""

    version: str
    older_than_target: bool
    active: bool
    is_core: bool = False
    task_group_id: int | None = None
    task_id: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The reference's four public keys."""
        return {
            "version": self.version,
            "older_than_target": self.older_than_target,
            "active": self.active,
            "is_core": self.is_core,
        }


@dataclass(frozen=True)
class TaskResolution:
    """Outcome of matching one task reference: the task found, or why not."""

    pkg_name: str
    version: str | None
    task_name: str
    task_group: Any = None
    task: Any = None
    reason: ResolutionFailure | None = None
    available_tasks: tuple[AvailableTask, ...] = ()

    @property
    def ok(self) -> bool:
        """True when a task was found."""
        return self.task is not None

    def to_dict(self) -> dict[str, object]:
        """The reference's per-task entry of a failed import (``outcome`` ...)."""
        base: dict[str, object] = {
            "pkg_name": self.pkg_name,
            "version": self.version,
            "task_name": self.task_name,
        }
        if self.ok:
            return {
                "outcome": "success",
                **base,
                "task_id": getattr(self.task, "id", None),
            }
        return {
            "outcome": "fail",
            **base,
            "available_tasks": [a.to_dict() for a in self.available_tasks],
        }

    def describe(self) -> str:
        """One line for error messages: the reference and the versions on offer."""
        ref = (
            f"pkg_name={self.pkg_name!r}, version={self.version!r}, "
            f"name={self.task_name!r}"
        )
        if self.ok:
            return f"{ref}: found ({_describe_group(self.task_group)})"
        if self.reason is ResolutionFailure.NO_MATCH:
            return f"{ref}: no task group of this package has a task of this name"
        offers = ", ".join(_describe_available(a) for a in self.available_tasks)
        if self.reason is ResolutionFailure.VERSION_MISSING:
            head = "no version given"
        elif self.reason is ResolutionFailure.AMBIGUOUS:
            head = "several task groups with this version and none has priority"
        else:
            head = "no task group with this version"
        return f"{ref}: {head}; available versions: [{offers}]"


def _describe_available(item: AvailableTask) -> str:
    flags = [
        "older than requested" if item.older_than_target else "not older",
        "active" if item.active else "inactive",
    ]
    if item.task_group_id is not None:
        flags.append(f"task group {item.task_group_id}")
    return f"{item.version} ({', '.join(flags)})"


def _describe_group(group: Any) -> str:
    return (
        f"task group id={getattr(group, 'id', None)} "
        f"pkg_name={getattr(group, 'pkg_name', None)!r} "
        f"version={getattr(group, 'version', None)!r} "
        f"user_id={getattr(group, 'user_id', None)} "
        f"user_group_id={getattr(group, 'user_group_id', None)}"
    )


def group_version(group: TaskGroupLike) -> str:
    """A group's version, with a legacy null read as ``"0"`` (upstream 2.23)."""
    version = group.version
    return LEGACY_NULL_VERSION if version is None else version


def _find_task(group: TaskGroupLike, task_name: str) -> Any | None:
    return next((t for t in group.task_list if t.name == task_name), None)


def accessible_task_groups(
    groups: Iterable[G],
    ownership: Ownership,
    *,
    resource_id: int | None = None,
) -> list[G]:
    """Groups the caller may use: own, or owned by one of the caller's groups.

    Every user is a member of the default group in the reference, so that group
    counts as accessible. With ``resource_id`` set, groups on another resource
    (a group without ``resource_id`` passes) are left out.
    """
    visible_groups = set(ownership.memberships)
    if ownership.default_group_id is not None:
        visible_groups.add(ownership.default_group_id)
    kept: list[G] = []
    for group in groups:
        group_resource = getattr(group, "resource_id", None)
        if resource_id is not None and group_resource not in (None, resource_id):
            continue
        if ownership.user_id is not None and not (
            getattr(group, "user_id", None) == ownership.user_id
            or getattr(group, "user_group_id", None) in visible_groups
        ):
            continue
        kept.append(group)
    return kept


def disambiguate_task_groups(groups: Sequence[G], ownership: Ownership) -> G | None:
    """Pick the group with ownership priority, or None (first hit in list order).

    1. a group owned by the caller; 2. a group of the default user group;
    3. a group of the caller's oldest membership (ties: smaller group id).
    """
    if ownership.user_id is not None:
        for group in groups:
            if getattr(group, "user_id", None) == ownership.user_id:
                return group
    if ownership.default_group_id is not None:
        for group in groups:
            if getattr(group, "user_group_id", None) == ownership.default_group_id:
                return group
    candidate_ids: set[int] = {
        gid
        for g in groups
        if isinstance(gid := getattr(g, "user_group_id", None), int)
        and gid in ownership.memberships
    }
    if not candidate_ids:
        return None
    oldest = min(candidate_ids, key=lambda gid: (ownership.memberships[gid], gid))
    return next(g for g in groups if getattr(g, "user_group_id", None) == oldest)


def remove_duplicate_task_groups(
    sorted_groups: Sequence[G], ownership: Ownership
) -> list[G]:
    """Keep one group per run of equal versions of an already sorted list."""
    kept: list[G] = []
    for _, run in itertools.groupby(sorted_groups, key=lambda g: g.version):  # type: ignore[attr-defined]
        same_version = list(run)
        chosen = disambiguate_task_groups(same_version, ownership)
        if chosen is None:
            raise TaskGroupDisambiguationError(same_version, ownership)
        kept.append(chosen)
    return kept


def group_task_groups_by_package(
    groups: Iterable[G], ownership: Ownership
) -> list[tuple[str, list[G]]]:
    """The reference's task-group listing: by ``pkg_name``, newest version first.

    Buckets are ordered by package name; inside a bucket, versions descend by
    ``version_sort_key`` and one group per version is kept by ownership.
    """
    by_name = sorted(groups, key=lambda g: g.pkg_name)  # type: ignore[attr-defined]
    listing: list[tuple[str, list[G]]] = []
    for pkg_name, bucket in itertools.groupby(by_name, key=lambda g: g.pkg_name):  # type: ignore[attr-defined]
        newest_first = sorted(
            bucket,
            key=lambda g: version_sort_key(g.version),  # type: ignore[attr-defined]
            reverse=True,
        )
        listing.append(
            (pkg_name, remove_duplicate_task_groups(newest_first, ownership))
        )
    return listing


def _available(
    groups: Sequence[TaskGroupLike], task_name: str, target: str | None
) -> tuple[AvailableTask, ...]:
    target_key = version_sort_key(target)
    items = []
    for group in groups:
        version = group_version(group)
        task = _find_task(group, task_name)
        items.append(
            AvailableTask(
                version=version,
                older_than_target=version_sort_key(version) < target_key,
                active=bool(group.active),
                is_core=bool(getattr(task, "is_core", False)),
                task_group_id=getattr(group, "id", None),
                task_id=getattr(task, "id", None),
            )
        )
    items.sort(key=lambda a: version_sort_key(a.version), reverse=True)
    return tuple(items)


def resolve_task_reference(
    reference: TaskReferenceLike,
    groups: Sequence[TaskGroupLike],
    ownership: Ownership,
) -> TaskResolution:
    """Find the task ``reference`` names among ``groups`` (upstream 6.1 rules).

    Package names are compared after PyPA normalisation on both sides (the
    reference compares them verbatim; normalising accepts strictly more files).
    """
    wanted_pkg = normalize_package_name(reference.pkg_name)
    outcome = TaskResolution(
        pkg_name=reference.pkg_name,
        version=reference.version,
        task_name=reference.name,
    )
    matching = [
        g
        for g in groups
        if normalize_package_name(g.pkg_name) == wanted_pkg
        and _find_task(g, reference.name) is not None
    ]
    if not matching:
        logger.debug("No task group matches %r", reference)
        return replace(outcome, reason=ResolutionFailure.NO_MATCH)
    if reference.version is None:
        return replace(
            outcome,
            reason=ResolutionFailure.VERSION_MISSING,
            available_tasks=_available(matching, reference.name, None),
        )
    same_version = [g for g in matching if group_version(g) == reference.version]
    if not same_version:
        return replace(
            outcome,
            reason=ResolutionFailure.VERSION_NOT_FOUND,
            available_tasks=_available(matching, reference.name, reference.version),
        )
    chosen = (
        same_version[0]
        if len(same_version) == 1
        else disambiguate_task_groups(same_version, ownership)
    )
    if chosen is None:
        return replace(
            outcome,
            reason=ResolutionFailure.AMBIGUOUS,
            available_tasks=_available(same_version, reference.name, reference.version),
        )
    return replace(outcome, task_group=chosen, task=_find_task(chosen, reference.name))


def resolve_task_references(
    references: Iterable[TaskReferenceLike],
    groups: Iterable[TaskGroupLike],
    ownership: Ownership,
) -> list[TaskResolution]:
    """Resolve every reference against the same candidate groups, in order."""
    candidates = list(groups)
    return [resolve_task_reference(ref, candidates, ownership) for ref in references]
