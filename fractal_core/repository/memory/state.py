"""Committed state and the tables a unit of work overlays on it, plus the
helpers every in-memory repository shares."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar

from ...domain.dataset import Dataset
from ...domain.job import Job
from ...domain.project import Project
from ...domain.task_group import TaskGroup
from ...domain.task_group import TaskGroupActivity
from ...domain.workflow import Workflow
from ...images.image_list import ImageList
from ..base import NotFoundError
from ..base import RepositoryError

if TYPE_CHECKING:
    from .uow import MemoryUnitOfWork


V = TypeVar("V")
GONE: Any = object()
"""Marks a deleted row in a unit of work's pending writes."""


@dataclass(frozen=True)
class UrlChanges:
    """The urls one `apply_image_changes` call touched (contents are read
    from the unit of work's own list when replayed)."""

    created: list[str]
    updated: list[str]
    removed: list[str]


ImageOp = UrlChanges | None
"""One image operation of a unit of work; None: the whole list was replaced."""


# --- state and tables ---------------------------------------------------------


@dataclass(frozen=True)
class State:
    """One committed version of every table (never mutated, only replaced)."""

    projects: dict[int, Project]
    datasets: dict[int, Dataset]  # stored without images
    images: dict[int, ImageList]  # dataset id -> its images
    workflows: dict[int, Workflow]
    task_groups: dict[int, TaskGroup]
    jobs: dict[int, Job]
    activities: dict[int, TaskGroupActivity]

    @classmethod
    def empty(cls) -> State:
        return cls(**{f.name: {} for f in fields(cls)})


class Table(Generic[V]):
    """A snapshot table overlaid with pending writes (`GONE` = deleted)."""

    def __init__(self, kind: str, base: dict[int, V]) -> None:
        self.kind = kind
        self.base = base
        self.pending: dict[int, V] = {}

    def find(self, key: int) -> V | None:
        if key in self.pending:
            value = self.pending[key]
            return None if value is GONE else value
        return self.base.get(key)

    def need(self, key: int) -> V:
        """The row, or NotFoundError naming the kind and id.

        A bool or float is no id (they hash like ints: `True` would find 1),
        as in the SQL store.
        """
        value = None if isinstance(key, (bool, float)) else self.find(key)
        if value is None:
            raise NotFoundError(f"{self.kind} {key} not found.")
        return value

    def put(self, key: int, value: V) -> None:
        self.pending[key] = value

    def drop(self, key: int) -> None:
        self.pending[key] = GONE

    def rows(self) -> list[V]:
        """Every live row, by id."""
        keys = sorted(set(self.base) | set(self.pending))
        found = (self.find(key) for key in keys)
        return [value for value in found if value is not None]

    def merged_into(self, current: dict[int, V]) -> dict[int, V]:
        """A new dict: `current` with this table's pending writes applied."""
        if not self.pending:
            return current
        merged = dict(current)
        for key, value in self.pending.items():
            if value is GONE:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged


def copy_of(obj: V) -> V:
    """A deep copy of a pydantic domain object."""
    return obj.model_copy(deep=True)  # type: ignore[attr-defined, no-any-return]


def need_id(obj: Any, kind: str) -> int:
    if obj.id is None:
        raise RepositoryError(f"Cannot update a {kind} without an id.")
    return int(obj.id)


# --- shared by the repositories ------------------------------------------------


class Repo:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow


def unlink_jobs(uow: MemoryUnitOfWork, field: str, value: int) -> None:
    """Set `field` to None on every job pointing at a deleted object."""
    for job in uow.t_jobs.rows():
        if getattr(job, field) == value:
            uow.t_jobs.put(job.id, job.model_copy(update={field: None}))  # type: ignore[arg-type]


def need_project(uow: MemoryUnitOfWork, project_id: int | None, what: str) -> None:
    if project_id is None:
        raise RepositoryError(f"A {what} needs a project_id.")
    uow.t_projects.need(project_id)
