"""The repository seam: where projects, datasets, workflows, task groups, jobs
and history live, behind one protocol per aggregate and a unit of work.

A `Store` is a database (or memory). `store.unit_of_work()` opens a unit of
work: every change made through its repositories becomes visible to others
only on `commit()`; leaving the `with` block without committing rolls back.
Repositories hand out and take domain objects (pydantic models, no
SQLAlchemy): `add` returns the stored object with its id filled in, `get`
returns a fresh copy (changing it changes nothing until `update`).

The store is also the engine's recorder (`store.recorder()`), and the
recorder's writes (one transaction per engine event, one per applied task)
are visible through the same store's units of work.

Implementations: `memory.MemoryStore` (the default, no dependency) and
`sql.SQLStore` (SQLAlchemy 2 on SQLite or PostgreSQL). Both pass
`tests/repository/contract.py` unchanged.
"""

from __future__ import annotations

import builtins
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from types import TracebackType
from typing import Any
from typing import Generic
from typing import Protocol
from typing import Self
from typing import TypeVar
from typing import runtime_checkable

from ..domain.dataset import Dataset
from ..domain.job import Job
from ..domain.job import JobStatus
from ..domain.project import Project
from ..domain.task import Task
from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivity
from ..domain.workflow import Workflow
from ..engine.recorder import HistoryQueries
from ..engine.recorder import ImageChanges
from ..engine.recorder import Recorder
from ..engine.recorder import RunRecord
from ..engine.recorder import UnitRecord
from ..errors import FractalCoreError
from ..images.image_list import ImageList

__all__ = [
    "ConflictError",
    "DatasetRepository",
    "HistoryReads",
    "ImagePage",
    "JobRepository",
    "NotFoundError",
    "Page",
    "PageWindow",
    "PaginationError",
    "ProjectRepository",
    "RepositoryError",
    "SchemaVersionError",
    "Store",
    "StoreRecorder",
    "TaskGroupRepository",
    "UnitOfWork",
    "WorkflowRepository",
    "check_pagination",
    "clamped_page",
    "unclamped_page",
]

T = TypeVar("T")


class RepositoryError(FractalCoreError):
    """Something went wrong storing or loading an object."""


class NotFoundError(RepositoryError, LookupError):
    """No object of that kind with that id (the message names both)."""


class ConflictError(RepositoryError, ValueError):
    """A uniqueness rule refused the change (e.g. a second submitted job)."""


class SchemaVersionError(RepositoryError):
    """The database was written by another schema version (see the upgrade docs)."""


class PaginationError(RepositoryError, ValueError):
    """`page` / `page_size` the reference refuses ("Invalid pagination parameters")."""


_MAX_PAGINATION = 2**63 - 1
"""Databases hold 64-bit integers: a larger page or page size cannot be queried."""


def check_pagination(page: int, page_size: int | None) -> None:
    """Refuse what the reference's `PaginationRequest` refuses: `page < 1`,
    `page_size < 1`, and `page > 1` without a `page_size`."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise PaginationError(
            f"Invalid pagination parameters: page={page!r} must be an integer >= 1."
        )
    if page_size is not None and (
        isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1
    ):
        raise PaginationError(
            "Invalid pagination parameters: "
            f"page_size={page_size!r} must be an integer >= 1 or None."
        )
    for name, value in (("page", page), ("page_size", page_size)):
        if value is not None and value > _MAX_PAGINATION:
            raise PaginationError(
                "Invalid pagination parameters: "
                f"{name}={value} is above the largest stored integer (2**63-1)."
            )
    if page_size is None and page > 1:
        raise PaginationError(
            "Invalid pagination parameters: "
            f"page_size is None but page={page} is greater than 1."
        )


@dataclass(frozen=True)
class PageWindow:
    """Which slice of `total_count` matching items one page shows.

    `page` and `page_size` are what the reply reports; the items are
    `matching[offset : offset + page_size]`.
    """

    page: int
    page_size: int
    offset: int


def clamped_page(total_count: int, page: int, page_size: int | None) -> PageWindow:
    """The reference's image-query pagination (services.md §2.4, "clamped").

    No `page_size` means one page with everything (`page_size` reported as
    the count); a page past the last one shows the last page; with nothing
    matching, the requested page is echoed with no items.
    """
    check_pagination(page, page_size)
    size = total_count if page_size is None else page_size
    if total_count == 0:
        return PageWindow(page=page, page_size=size, offset=0)
    last_page = -(-total_count // size)
    shown = min(page, last_page)
    return PageWindow(page=shown, page_size=size, offset=(shown - 1) * size)


def unclamped_page(total_count: int, page: int, page_size: int | None) -> PageWindow:
    """The reference's history pagination (services.md §2.4, "unclamped").

    No `page_size` means all `total_count` items on page 1; a page past the
    end is empty and `page` is echoed as requested.
    """
    check_pagination(page, page_size)
    size = total_count if page_size is None else page_size
    offset = min((page - 1) * size, total_count)  # past the end: empty, no overflow
    return PageWindow(page=page, page_size=size, offset=offset)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items: `total_count` matching items over all pages."""

    items: list[T]
    total_count: int
    page: int
    page_size: int


@dataclass(frozen=True)
class ImagePage:
    """One page of a dataset's images, as the reference's image query returns it.

    `total_count` counts the images matching the filters (all pages);
    `attributes` (attribute -> sorted distinct values) and `types` (sorted type
    names) describe the whole dataset, not only the page.
    """

    items: list[dict[str, Any]]
    total_count: int
    page: int
    page_size: int
    attributes: dict[str, list[Any]] = field(default_factory=dict)
    types: list[str] = field(default_factory=list)


@runtime_checkable
class ProjectRepository(Protocol):
    def add(self, project: Project) -> Project: ...
    def get(self, project_id: int) -> Project: ...
    def list(self) -> list[Project]: ...
    def update(self, project: Project) -> None: ...
    def delete(self, project_id: int) -> None:
        """Delete the project and everything it owns (datasets, workflows, jobs'
        links as the reference cascades them)."""
        ...


@runtime_checkable
class DatasetRepository(Protocol):
    def add(self, dataset: Dataset) -> Dataset:
        """Store the dataset and its images (one row each in SQL)."""
        ...

    def get(self, dataset_id: int, *, with_images: bool = True) -> Dataset: ...
    def list(self, project_id: int | None = None) -> list[Dataset]:
        """Datasets (without their images loaded), by id."""
        ...

    def update(self, dataset: Dataset) -> None:
        """Store name and zarr_dir; images change only through the image methods."""
        ...

    def delete(self, dataset_id: int) -> None: ...

    # -- images, one row per image ------------------------------------------------
    def images(self, dataset_id: int) -> ImageList: ...
    def query_images(
        self,
        dataset_id: int,
        *,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
        zarr_url: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage: ...
    def apply_image_changes(self, dataset_id: int, changes: ImageChanges) -> None:
        """Append created images (in order), replace updated ones in place,
        delete removed ones: O(k) writes for k changed images."""
        ...

    def replace_images(self, dataset_id: int, images: ImageList) -> None: ...
    def forget_image_status(self, dataset_id: int, zarr_urls: Sequence[str]) -> None:
        """Drop the per-image history status of these images for every workflow
        task (an image deleted by a user has no status any more)."""
        ...


@runtime_checkable
class WorkflowRepository(Protocol):
    def add(self, workflow: Workflow) -> Workflow:
        """Store the workflow and its tasks (workflow tasks get ids)."""
        ...

    def get(self, workflow_id: int) -> Workflow: ...
    def list(self, project_id: int | None = None) -> list[Workflow]: ...
    def update(self, workflow: Workflow) -> Workflow:
        """Store name, description and the task list as given (new workflow
        tasks get ids, missing ones are deleted); return the stored workflow."""
        ...

    def delete(self, workflow_id: int) -> None: ...


@runtime_checkable
class TaskGroupRepository(Protocol):
    def add(self, group: TaskGroup) -> TaskGroup:
        """Store the group and its tasks (tasks get ids)."""
        ...

    def get(self, task_group_id: int) -> TaskGroup: ...
    def get_task(self, task_id: int) -> Task:
        """The task, linked to its stored group (`task.task_group`)."""
        ...

    def list(
        self,
        *,
        pkg_name: str | None = None,
        version: str | None = None,
        active: bool | None = None,
    ) -> list[TaskGroup]: ...
    def update(self, group: TaskGroup) -> None: ...
    def delete(self, task_group_id: int) -> None: ...
    def add_activity(self, activity: TaskGroupActivity) -> TaskGroupActivity: ...
    def update_activity(self, activity: TaskGroupActivity) -> None: ...
    def activities(
        self, task_group_id: int | None = None
    ) -> builtins.list[TaskGroupActivity]: ...


@runtime_checkable
class JobRepository(Protocol):
    def add(self, job: Job) -> Job:
        """Store a new job. A second `submitted` job for the same dataset raises
        ConflictError, enforced so that two processes racing cannot both win."""
        ...

    def get(self, job_id: int) -> Job: ...
    def list(
        self,
        *,
        project_id: int | None = None,
        dataset_id: int | None = None,
        workflow_id: int | None = None,
        status: JobStatus | None = None,
    ) -> list[Job]: ...
    def update(self, job: Job) -> None: ...


@runtime_checkable
class StoreRecorder(Recorder, HistoryQueries, Protocol):
    """The engine's recorder as a store provides it: events and queries."""


@runtime_checkable
class HistoryReads(Protocol):
    """History reads a store answers itself (in the database for SQL), for the
    history services (`fractal_core.services.history`).

    Keys are the engine's history keys (stored ids for stored objects); a
    run's "latest" is by `timestamp_started`, ties broken by id.
    """

    def run(self, run_id: int) -> RunRecord | None: ...
    def unit(self, unit_id: int) -> UnitRecord | None: ...
    def latest_runs(
        self, dataset_id: Hashable, workflowtask_ids: Sequence[Hashable]
    ) -> dict[Hashable, RunRecord]:
        """Latest run of each workflow task on the dataset (absent: never run)."""
        ...

    def image_status_counts(
        self, dataset_id: Hashable, workflowtask_ids: Sequence[Hashable]
    ) -> dict[Hashable, dict[str, int]]:
        """Per workflow task: latest-unit status -> number of cached images."""
        ...

    def runs_of_dataset(self, dataset_id: Hashable) -> builtins.list[RunRecord]:
        """Every run on the dataset (all workflow tasks), oldest first."""
        ...

    def unit_counts(self, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Per run: unit status -> number of units (statuses without units absent)."""
        ...

    def units_page(
        self,
        run_id: int,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[UnitRecord]:
        """Units of a run by id, optionally of one status, unclamped page."""
        ...

    def image_unit(
        self, dataset_id: Hashable, workflowtask_id: Hashable, zarr_url: str
    ) -> UnitRecord | None:
        """The latest unit that processed the image for the workflow task."""
        ...

    def status_images(
        self,
        dataset_id: int,
        workflowtask_id: Hashable,
        *,
        type_filters: Mapping[str, bool],
        attribute_filters: Mapping[str, Sequence[Any]],
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage:
        """Images of a stored dataset with their status for the workflow task.

        Type filters, then the status attribute (`IMAGE_STATUS_KEY`, `"unset"`
        when never processed), then attribute filters (the status included),
        sorted by zarr_url, unclamped page; `attributes` and `types` describe
        the whole dataset (the status key not added).
        """
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    # Read-only properties, not plain attributes: a protocol attribute is
    # invariant, so an implementation typing its repositories more narrowly
    # (SQLProjectRepository...) would not count as a UnitOfWork for mypy.
    @property
    def projects(self) -> ProjectRepository: ...
    @property
    def datasets(self) -> DatasetRepository: ...
    @property
    def workflows(self) -> WorkflowRepository: ...
    @property
    def task_groups(self) -> TaskGroupRepository: ...
    @property
    def jobs(self) -> JobRepository: ...

    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, then release the unit of work."""
        ...


@runtime_checkable
class Store(Protocol):
    def unit_of_work(self) -> UnitOfWork: ...
    def recorder(self) -> StoreRecorder: ...
    def close(self) -> None: ...
