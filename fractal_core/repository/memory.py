"""`MemoryStore`: the repository contract on plain dicts, no dependency.

Layout: the committed state is a set of tables (`dict` id -> object). Stored
objects are private copies that are never mutated: a change stores a new
object, and a commit builds new table dicts, so a snapshot taken by a unit of
work stays valid while others commit.

A unit of work reads the snapshot current when it began (or last committed or
rolled back), overlaid with its own pending writes. `commit()` re-checks the
rules that concern other writers (one `submitted` job per dataset) against the
latest committed state under the store's lock and merges the pending writes
into it (last writer wins per object). A dataset's images behave as rows, as
in SQL: when another writer changed the same dataset's images meanwhile, this
unit's image changes are replayed over theirs by zarr_url (a url both created
is a `ConflictError`). Ids come from per-kind counters owned
by the store: they only grow, and ids given out by a rolled-back unit of work
are never reused.

Everything goes in and out as deep copies: callers never share objects with
the store. The one exception, by design of the engine's seam: the recorder
keeps `TaskApplied.images` (a copy-on-write `ImageList` the engine never
modifies again) by reference.
"""

from __future__ import annotations

import builtins
import itertools
import logging
import threading
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any
from typing import Generic
from typing import Self
from typing import TypeVar

from ..domain.dataset import Dataset
from ..domain.job import Job
from ..domain.job import JobStatus
from ..domain.project import Project
from ..domain.task import Task
from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivity
from ..domain.workflow import Workflow
from ..engine.recorder import ImageChanges
from ..engine.recorder import InMemoryRecorder
from ..engine.recorder import TaskApplied
from ..images.image_list import ImageList
from ..images.tools import aggregate_attributes
from ..images.tools import aggregate_types
from .base import ConflictError
from .base import ImagePage
from .base import NotFoundError
from .base import RepositoryError
from .base import clamped_page
from .memory_history import MemoryHistoryReads

__all__ = ["MemoryStore", "MemoryStoreRecorder", "MemoryUnitOfWork"]

logger = logging.getLogger(__name__)

V = TypeVar("V")
_GONE: Any = object()
"""Marks a deleted row in a unit of work's pending writes."""


@dataclass(frozen=True)
class _UrlChanges:
    """The urls one `apply_image_changes` call touched (contents are read
    from the unit of work's own list when replayed)."""

    created: list[str]
    updated: list[str]
    removed: list[str]


_ImageOp = _UrlChanges | None
"""One image operation of a unit of work; None: the whole list was replaced."""


# --- state ---------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    """One committed version of every table (never mutated, only replaced)."""

    projects: dict[int, Project]
    datasets: dict[int, Dataset]  # stored without images
    images: dict[int, ImageList]  # dataset id -> its images
    workflows: dict[int, Workflow]
    task_groups: dict[int, TaskGroup]
    jobs: dict[int, Job]
    activities: dict[int, TaskGroupActivity]

    @classmethod
    def empty(cls) -> _State:
        return cls(**{f.name: {} for f in fields(cls)})


class _Table(Generic[V]):
    """A snapshot table overlaid with pending writes (`_GONE` = deleted)."""

    def __init__(self, kind: str, base: dict[int, V]) -> None:
        self.kind = kind
        self.base = base
        self.pending: dict[int, V] = {}

    def find(self, key: int) -> V | None:
        if key in self.pending:
            value = self.pending[key]
            return None if value is _GONE else value
        return self.base.get(key)

    def need(self, key: int) -> V:
        """The row, or NotFoundError naming the kind and id."""
        value = self.find(key)
        if value is None:
            raise NotFoundError(f"{self.kind} {key} not found.")
        return value

    def put(self, key: int, value: V) -> None:
        self.pending[key] = value

    def drop(self, key: int) -> None:
        self.pending[key] = _GONE

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
            if value is _GONE:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged


def _copy(obj: V) -> V:
    """A deep copy of a pydantic domain object."""
    return obj.model_copy(deep=True)  # type: ignore[attr-defined, no-any-return]


def _need_id(obj: Any, kind: str) -> int:
    if obj.id is None:
        raise RepositoryError(f"Cannot update a {kind} without an id.")
    return int(obj.id)


# --- the unit of work ---------------------------------------------------------


class MemoryUnitOfWork:
    """Pending changes over a snapshot; see the module docstring."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._begin(store._state)
        self.projects = _Projects(self)
        self.datasets = _Datasets(self)
        self.workflows = _Workflows(self)
        self.task_groups = _TaskGroups(self)
        self.jobs = _Jobs(self)

    def _begin(self, state: _State) -> None:
        self.t_projects: _Table[Project] = _Table("Project", state.projects)
        self.t_datasets: _Table[Dataset] = _Table("Dataset", state.datasets)
        self.t_images: _Table[ImageList] = _Table("Dataset", state.images)
        self.t_workflows: _Table[Workflow] = _Table("Workflow", state.workflows)
        self.t_groups: _Table[TaskGroup] = _Table("Task group", state.task_groups)
        self.t_jobs: _Table[Job] = _Table("Job", state.jobs)
        self.t_activities: _Table[TaskGroupActivity] = _Table(
            "Task group activity", state.activities
        )
        self.gone_datasets: set[int] = set()
        self.gone_workflow_tasks: set[int] = set()
        self.gone_image_status: list[tuple[int, list[str]]] = []
        # dataset id -> image operations, replayed at commit when another
        # writer changed the same dataset's images meanwhile
        self.image_ops: dict[int, list[_ImageOp]] = {}

    def _tables(self) -> dict[str, _Table[Any]]:
        return {
            "projects": self.t_projects,
            "datasets": self.t_datasets,
            "images": self.t_images,
            "workflows": self.t_workflows,
            "task_groups": self.t_groups,
            "jobs": self.t_jobs,
            "activities": self.t_activities,
        }

    def new_id(self, kind: str) -> int:
        return self._store._new_id(kind)

    # -- transaction control ------

    def commit(self) -> None:
        """Merge the pending writes into the latest state, atomically."""
        gone_datasets, gone_wfts = self.gone_datasets, self.gone_workflow_tasks
        gone_status = self.gone_image_status
        state = self._store._commit(self._merged)
        self._begin(state)
        self._store._forget_history(gone_datasets, gone_wfts)
        for dataset_id, urls in gone_status:
            self._store._recorder.forget_image_status(dataset_id, urls)

    def rollback(self) -> None:
        """Drop the pending writes and start again from the latest state."""
        self._begin(self._store._state)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def _merged(self, current: _State) -> _State:
        """`current` with this unit's writes applied; raises on conflicts."""
        merged = {
            name: table.merged_into(getattr(current, name))
            for name, table in self._tables().items()
            if name != "images"
        }
        merged["images"] = self._merged_images(current.images, merged["datasets"])
        self._check_jobs_against(merged["jobs"])
        return replace(current, **merged)

    def _merged_images(
        self, current: dict[int, ImageList], datasets: Mapping[int, Dataset]
    ) -> dict[int, ImageList]:
        """Image lists as rows: another writer's changes to the same dataset
        are kept, this unit's operations are replayed over them."""
        pending = self.t_images.pending
        if not pending:
            return current
        merged = dict(current)
        for dataset_id, images in pending.items():
            if images is _GONE or dataset_id not in datasets:
                merged.pop(dataset_id, None)
                continue
            ops = self.image_ops.get(dataset_id, [])
            if current.get(dataset_id) is self.t_images.base.get(dataset_id):
                merged[dataset_id] = images  # nobody else wrote them
            elif None in ops:
                merged[dataset_id] = images  # replaced as a whole here
            else:
                merged[dataset_id] = _replayed(
                    dataset_id, current.get(dataset_id, ImageList()), ops, images
                )
        return merged

    def _check_jobs_against(self, jobs: dict[int, Job]) -> None:
        """Re-check one-submitted-job-per-dataset on the merged job table."""
        for job_id, job in self.t_jobs.pending.items():
            if job is not _GONE:
                _check_single_submitted(jobs.values(), job, job_id)

    # -- shared look-ups -----------------------------------------------------------

    def task_index(self) -> dict[int, int]:
        """task id -> task group id, over the current view."""
        return {
            task.id: group_id
            for group in self.t_groups.rows()
            if (group_id := group.id) is not None
            for task in group.task_list
            if task.id is not None
        }

    def used_task_ids(self) -> set[int]:
        return {
            wft.task_id
            for wf in self.t_workflows.rows()
            for wft in wf.task_list
            if wft.task_id is not None
        }


def _replayed(
    dataset_id: int, current: ImageList, ops: list[_ImageOp], own: ImageList
) -> ImageList:
    """This unit's changes replayed over images another writer committed
    meanwhile, with row semantics: a url created by both is a conflict; an
    update or removal of an image the other writer removed does nothing.
    Contents are the unit's final ones (`own`)."""
    images = current.copy()
    for op in ops:
        assert op is not None  # whole replacements never replay
        for zarr_url in op.created:
            if zarr_url in images:
                raise ConflictError(
                    f"Dataset {dataset_id} already has an image with zarr_url "
                    f"'{zarr_url}' (written by another unit of work)."
                )
            if zarr_url in own:
                images.add(own[zarr_url])
        for zarr_url in op.updated:
            if zarr_url in images and zarr_url in own:
                images.set(own[zarr_url])
        for zarr_url in op.removed:
            if zarr_url in images:
                images.remove(zarr_url)
    return images


def _check_single_submitted(jobs: Any, job: Job, job_id: int) -> None:
    if job.status != JobStatus.SUBMITTED or job.dataset_id is None:
        return
    for other in jobs:
        if (
            other.id != job_id
            and other.dataset_id == job.dataset_id
            and other.status == JobStatus.SUBMITTED
        ):
            raise ConflictError(
                f"Dataset {job.dataset_id} already has a submitted job "
                f"(job {other.id}); job {job_id} refused."
            )


# --- repositories ----------------------------------------------------------------


class _Repo:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.uow = uow


class _Projects(_Repo):
    def add(self, project: Project) -> Project:
        stored = _copy(project).model_copy(update={"id": self.uow.new_id("project")})
        self.uow.t_projects.put(stored.id, stored)  # type: ignore[arg-type]
        return _copy(stored)

    def get(self, project_id: int) -> Project:
        return _copy(self.uow.t_projects.need(project_id))

    def list(self) -> list[Project]:
        return [_copy(p) for p in self.uow.t_projects.rows()]

    def update(self, project: Project) -> None:
        project_id = _need_id(project, "project")
        self.uow.t_projects.need(project_id)
        self.uow.t_projects.put(project_id, _copy(project))

    def delete(self, project_id: int) -> None:
        """The project, its datasets and workflows; its jobs lose their links."""
        self.uow.t_projects.need(project_id)
        for ds in self.uow.t_datasets.rows():
            if ds.project_id == project_id:
                self.uow.datasets.delete(ds.id)  # type: ignore[arg-type]
        for wf in self.uow.t_workflows.rows():
            if wf.project_id == project_id:
                self.uow.workflows.delete(wf.id)  # type: ignore[arg-type]
        _unlink_jobs(self.uow, "project_id", project_id)
        self.uow.t_projects.drop(project_id)


def _unlink_jobs(uow: MemoryUnitOfWork, field: str, value: int) -> None:
    """Set `field` to None on every job pointing at a deleted object."""
    for job in uow.t_jobs.rows():
        if getattr(job, field) == value:
            uow.t_jobs.put(job.id, job.model_copy(update={field: None}))  # type: ignore[arg-type]


class _Datasets(_Repo):
    def add(self, dataset: Dataset) -> Dataset:
        _need_project(self.uow, dataset.project_id, "dataset")
        dataset_id = self.uow.new_id("dataset")
        bare = dataset.model_copy(update={"images": ImageList()})
        stored = _copy(bare).model_copy(update={"id": dataset_id})
        self.uow.t_datasets.put(dataset_id, stored)
        self.uow.t_images.put(dataset_id, dataset.images.copy())
        self.uow.image_ops[dataset_id] = [None]
        return self.get(dataset_id)

    def get(self, dataset_id: int, *, with_images: bool = True) -> Dataset:
        stored = self.uow.t_datasets.need(dataset_id)
        images = self.images(dataset_id) if with_images else ImageList()
        return _copy(stored).model_copy(update={"images": images})

    def list(self, project_id: int | None = None) -> list[Dataset]:
        return [
            _copy(ds)
            for ds in self.uow.t_datasets.rows()
            if project_id is None or ds.project_id == project_id
        ]

    def update(self, dataset: Dataset) -> None:
        dataset_id = _need_id(dataset, "dataset")
        stored = self.uow.t_datasets.need(dataset_id)
        changed = stored.model_copy(
            update={"name": dataset.name, "zarr_dir": dataset.zarr_dir}
        )
        self.uow.t_datasets.put(dataset_id, changed)

    def delete(self, dataset_id: int) -> None:
        """The dataset, its images and (on commit) its history."""
        self.uow.t_datasets.need(dataset_id)
        self.uow.t_datasets.drop(dataset_id)
        self.uow.t_images.drop(dataset_id)
        _unlink_jobs(self.uow, "dataset_id", dataset_id)
        self.uow.gone_datasets.add(dataset_id)

    def forget_image_status(self, dataset_id: int, zarr_urls: Sequence[str]) -> None:
        """Drop (on commit) the history status of these images, every task."""
        self.uow.t_datasets.need(dataset_id)
        self.uow.gone_image_status.append((dataset_id, list(zarr_urls)))

    # -- images ------

    def _stored_images(self, dataset_id: int) -> ImageList:
        self.uow.t_datasets.need(dataset_id)
        return self.uow.t_images.find(dataset_id) or ImageList()

    def images(self, dataset_id: int) -> ImageList:
        return self._stored_images(dataset_id).copy()

    def query_images(
        self,
        dataset_id: int,
        *,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
        zarr_url: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage:
        """The reference's image query: aggregates of the whole dataset, then
        the exact zarr_url, then the filters, then a clamped page."""
        images = self._stored_images(dataset_id)
        if zarr_url is None:
            matching = images.filter(type_filters, attribute_filters)
        else:
            one = [images[zarr_url]] if zarr_url in images else []
            matching = ImageList(one, validate=False).filter(
                type_filters, attribute_filters
            )
        window = clamped_page(len(matching), page, page_size)
        everything = images.to_list()
        return ImagePage(
            items=matching[window.offset : window.offset + window.page_size],
            total_count=len(matching),
            page=window.page,
            page_size=window.page_size,
            attributes=aggregate_attributes(everything),
            types=aggregate_types(everything),
        )

    def apply_image_changes(self, dataset_id: int, changes: ImageChanges) -> None:
        """Check every change fits, then apply them to a copy that replaces
        this unit's images only if every image was valid (all or nothing)."""
        current = self._stored_images(dataset_id)
        _check_changes_fit(dataset_id, current, changes)
        images = current.copy()  # shallow: O(n) pointers, images are shared
        for image in changes.created:
            images.add(image)
        for image in changes.updated:
            images.set(image)
        for zarr_url in changes.removed:
            images.remove(zarr_url)
        self.uow.t_images.put(dataset_id, images)
        self.uow.image_ops.setdefault(dataset_id, []).append(
            _UrlChanges(
                created=[image["zarr_url"] for image in changes.created],
                updated=[image["zarr_url"] for image in changes.updated],
                removed=list(changes.removed),
            )
        )

    def replace_images(self, dataset_id: int, images: ImageList) -> None:
        self.uow.t_datasets.need(dataset_id)
        self.uow.t_images.put(dataset_id, images.copy())
        self.uow.image_ops[dataset_id] = [None]


def _check_changes_fit(
    dataset_id: int, current: ImageList, changes: ImageChanges
) -> None:
    for image in changes.created:
        if image["zarr_url"] in current:
            raise ConflictError(
                f"Dataset {dataset_id} already has an image with "
                f"zarr_url '{image['zarr_url']}'."
            )
    missing = [image["zarr_url"] for image in changes.updated]
    for zarr_url in [*missing, *changes.removed]:
        if zarr_url not in current:
            raise NotFoundError(
                f"No image with zarr_url '{zarr_url}' in dataset {dataset_id}."
            )


def _need_project(uow: MemoryUnitOfWork, project_id: int | None, what: str) -> None:
    if project_id is None:
        raise RepositoryError(f"A {what} needs a project_id.")
    uow.t_projects.need(project_id)


class _Workflows(_Repo):
    def add(self, workflow: Workflow) -> Workflow:
        _need_project(self.uow, workflow.project_id, "workflow")
        workflow_id = self.uow.new_id("workflow")
        stored = self._stored_form(workflow, workflow_id, own_wft_ids=set())
        self.uow.t_workflows.put(workflow_id, stored)
        return self.get(workflow_id)

    def get(self, workflow_id: int) -> Workflow:
        return self._loaded(self.uow.t_workflows.need(workflow_id))

    def list(self, project_id: int | None = None) -> list[Workflow]:
        return [
            self._loaded(wf)
            for wf in self.uow.t_workflows.rows()
            if project_id is None or wf.project_id == project_id
        ]

    def update(self, workflow: Workflow) -> Workflow:
        """Name, description and task list; kept steps keep their ids."""
        workflow_id = _need_id(workflow, "workflow")
        old = self.uow.t_workflows.need(workflow_id)
        old_ids = {wft.id for wft in old.task_list if wft.id is not None}
        given = workflow.model_copy(
            update={
                "project_id": old.project_id,
                "timestamp_created": old.timestamp_created,
            }
        )
        stored = self._stored_form(given, workflow_id, own_wft_ids=old_ids)
        kept = {wft.id for wft in stored.task_list}
        self.uow.gone_workflow_tasks.update(old_ids - kept)  # type: ignore[arg-type]
        self.uow.t_workflows.put(workflow_id, stored)
        return self.get(workflow_id)

    def delete(self, workflow_id: int) -> None:
        """The workflow and its steps (their image status goes on commit)."""
        old = self.uow.t_workflows.need(workflow_id)
        self.uow.gone_workflow_tasks.update(
            wft.id for wft in old.task_list if wft.id is not None
        )
        self.uow.t_workflows.drop(workflow_id)
        _unlink_jobs(self.uow, "workflow_id", workflow_id)

    # -- helpers ------

    def _stored_form(
        self, workflow: Workflow, workflow_id: int, *, own_wft_ids: set[int]
    ) -> Workflow:
        """A private copy with ids, order and task ids checked and filled in."""
        index = self.uow.task_index()
        steps = []
        for position, wft in enumerate(workflow.task_list):
            task_id = wft.task_id if wft.task_id is not None else wft.task.id
            if task_id is None:
                raise RepositoryError(
                    f"Workflow '{workflow.name}', step {position}: task "
                    f"'{wft.task.name}' has no id; store its task group first."
                )
            if task_id not in index:
                raise NotFoundError(f"Task {task_id} not found.")
            if wft.id is not None and wft.id not in own_wft_ids:
                raise NotFoundError(
                    f"Workflow task {wft.id} not found in workflow {workflow_id}."
                )
            wft_id = wft.id if wft.id is not None else self.uow.new_id("workflowtask")
            steps.append(
                _copy(wft).model_copy(
                    update={
                        "id": wft_id,
                        "workflow_id": workflow_id,
                        "order": position,
                        "task_id": task_id,
                    }
                )
            )
        return _copy(workflow).model_copy(
            update={"id": workflow_id, "task_list": steps}
        )

    def _loaded(self, stored: Workflow) -> Workflow:
        """A copy whose steps embed their current tasks (linked to copies of
        their groups)."""
        groups: dict[int, TaskGroup] = {}
        index = self.uow.task_index()
        steps = []
        for wft in stored.task_list:
            task = _task_in(self.uow, index, groups, wft.task_id)  # type: ignore[arg-type]
            steps.append(_copy(wft).model_copy(update={"task": task}))
        return _copy(stored).model_copy(update={"task_list": steps})


def _task_in(
    uow: MemoryUnitOfWork,
    index: Mapping[int, int],
    groups: dict[int, TaskGroup],
    task_id: int,
) -> Task:
    """The stored task, linked to a (cached) copy of its stored group."""
    group_id = index.get(task_id)
    if group_id is None:
        raise NotFoundError(f"Task {task_id} not found.")
    if group_id not in groups:
        groups[group_id] = _copy(uow.t_groups.need(group_id))
    for task in groups[group_id].task_list:
        if task.id == task_id:
            return task
    raise NotFoundError(f"Task {task_id} not found.")  # pragma: no cover


class _TaskGroups(_Repo):
    def add(self, group: TaskGroup) -> TaskGroup:
        group_id = self.uow.new_id("task_group")
        self.uow.t_groups.put(group_id, self._stored_form(group, group_id, set()))
        return self.get(group_id)

    def get(self, task_group_id: int) -> TaskGroup:
        return _copy(self.uow.t_groups.need(task_group_id))

    def get_task(self, task_id: int) -> Task:
        return _task_in(self.uow, self.uow.task_index(), {}, task_id)

    def list(
        self,
        *,
        pkg_name: str | None = None,
        version: str | None = None,
        active: bool | None = None,
    ) -> list[TaskGroup]:
        return [
            _copy(group)
            for group in self.uow.t_groups.rows()
            if (pkg_name is None or group.pkg_name == pkg_name)
            and (version is None or group.version == version)
            and (active is None or group.active == active)
        ]

    def update(self, group: TaskGroup) -> None:
        """Group fields and tasks: kept tasks keep their ids, new ones get
        ids, missing ones are deleted unless a workflow uses them."""
        group_id = _need_id(group, "task group")
        old = self.uow.t_groups.need(group_id)
        old_ids = {task.id for task in old.task_list if task.id is not None}
        stored = self._stored_form(group, group_id, old_ids)  # type: ignore[arg-type]
        removed = old_ids - {task.id for task in stored.task_list}
        _refuse_used(self.uow, removed, f"task group {group_id}")  # type: ignore[arg-type]
        self.uow.t_groups.put(group_id, stored)

    def delete(self, task_group_id: int) -> None:
        """Refused while a workflow uses one of its tasks; activities stay."""
        old = self.uow.t_groups.need(task_group_id)
        task_ids = {task.id for task in old.task_list if task.id is not None}
        _refuse_used(self.uow, task_ids, f"task group {task_group_id}")  # type: ignore[arg-type]
        self.uow.t_groups.drop(task_group_id)
        for activity in self.uow.t_activities.rows():
            if activity.taskgroupv2_id == task_group_id:
                self.uow.t_activities.put(
                    activity.id,  # type: ignore[arg-type]
                    activity.model_copy(update={"taskgroupv2_id": None}),
                )

    def add_activity(self, activity: TaskGroupActivity) -> TaskGroupActivity:
        activity_id = self.uow.new_id("activity")
        stored = _copy(activity).model_copy(update={"id": activity_id})
        self.uow.t_activities.put(activity_id, stored)
        return _copy(stored)

    def update_activity(self, activity: TaskGroupActivity) -> None:
        activity_id = _need_id(activity, "task group activity")
        self.uow.t_activities.need(activity_id)
        self.uow.t_activities.put(activity_id, _copy(activity))

    def activities(
        self, task_group_id: int | None = None
    ) -> builtins.list[TaskGroupActivity]:
        return [
            _copy(activity)
            for activity in self.uow.t_activities.rows()
            if task_group_id is None or activity.taskgroupv2_id == task_group_id
        ]

    def _stored_form(
        self, group: TaskGroup, group_id: int, own_task_ids: set[int]
    ) -> TaskGroup:
        tasks = []
        for task in group.task_list:
            if task.id is not None and task.id not in own_task_ids:
                raise NotFoundError(
                    f"Task {task.id} not found in task group {group_id}."
                )
            task_id = task.id if task.id is not None else self.uow.new_id("task")
            tasks.append(
                task.model_copy(
                    update={"id": task_id, "taskgroupv2_id": group_id}, deep=True
                )
            )
        stored = _copy(group).model_copy(update={"id": group_id})
        stored.task_list = tasks  # re-links the tasks to `stored`
        return stored


def _refuse_used(uow: MemoryUnitOfWork, task_ids: set[int], where: str) -> None:
    used = sorted(task_ids & uow.used_task_ids())
    if used:
        raise ConflictError(
            f"Cannot delete task(s) {used} of {where}: used by workflow tasks."
        )


class _Jobs(_Repo):
    def add(self, job: Job) -> Job:
        for kind, table in (
            ("project_id", self.uow.t_projects),
            ("dataset_id", self.uow.t_datasets),
            ("workflow_id", self.uow.t_workflows),
        ):
            linked = getattr(job, kind)
            if linked is not None:
                table.need(linked)
        job_id = self.uow.new_id("job")
        stored = _copy(job).model_copy(update={"id": job_id})
        _check_single_submitted(self.uow.t_jobs.rows(), stored, job_id)
        self.uow.t_jobs.put(job_id, stored)
        return _copy(stored)

    def get(self, job_id: int) -> Job:
        return _copy(self.uow.t_jobs.need(job_id))

    def list(
        self,
        *,
        project_id: int | None = None,
        dataset_id: int | None = None,
        workflow_id: int | None = None,
        status: JobStatus | None = None,
    ) -> list[Job]:
        wanted = {
            "project_id": project_id,
            "dataset_id": dataset_id,
            "workflow_id": workflow_id,
            "status": status,
        }
        return [
            _copy(job)
            for job in self.uow.t_jobs.rows()
            if all(v is None or getattr(job, k) == v for k, v in wanted.items())
        ]

    def update(self, job: Job) -> None:
        job_id = _need_id(job, "job")
        self.uow.t_jobs.need(job_id)
        stored = _copy(job)
        _check_single_submitted(self.uow.t_jobs.rows(), stored, job_id)
        self.uow.t_jobs.put(job_id, stored)


# --- the recorder -------------------------------------------------------------------


class MemoryStoreRecorder(InMemoryRecorder):
    """`InMemoryRecorder` whose writes also reach the store.

    `task_applied` on a dataset the store holds replaces its images (by
    reference: the engine never modifies `TaskApplied.images` again); for a
    dataset id the store does not hold, the history is kept, no images are
    written and a warning is logged. `job_ended` and `executor_error_log` on a
    job the store holds update that job. Deleting datasets and workflows
    through the store removes their history (services.md §1.9).
    """

    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self._store = store

    def task_applied(self, event: TaskApplied) -> None:
        super().task_applied(event)
        if not self._store._set_images(event.dataset_id, event.images):
            logger.warning(
                "Dataset %r is not in the store: history of job %r recorded, "
                "its images not stored.",
                event.dataset_id,
                event.job_id,
            )
        self._store._update_job(
            event.job_id, executor_error_log=_clean(event.executor_error_log)
        )

    def job_ended(
        self, *, job_id: Hashable, status: JobStatus, log: str, end_timestamp: datetime
    ) -> None:
        super().job_ended(
            job_id=job_id, status=status, log=log, end_timestamp=end_timestamp
        )
        self._store._update_job(
            job_id, status=JobStatus(status), log=log, end_timestamp=end_timestamp
        )

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None:
        super().executor_error_log(job_id=job_id, text=text)
        self._store._update_job(job_id, executor_error_log=_clean(text))

    def history_reads(self) -> MemoryHistoryReads:
        """The history reads of the history services (`HistoryReads`)."""
        return MemoryHistoryReads(self, self._store._committed_images)

    def forget_image_status(self, dataset_id: Hashable, zarr_urls: list[str]) -> None:
        """Drop the image-status rows of these images for every workflow task."""
        with self._lock:
            for (ds, _wft), cache in self.image_cache.items():
                if ds == dataset_id:
                    for url in zarr_urls:
                        cache.pop(url, None)

    def forget(self, dataset_ids: set[int], workflowtask_ids: set[int]) -> None:
        """Drop the history of deleted datasets (runs, units, image status,
        images) and the image status of deleted workflow tasks (their runs
        and units stay, as in the reference)."""
        with self._lock:
            for run_id, run in list(self.runs.items()):
                if run.dataset_id in dataset_ids:
                    del self.runs[run_id]
                    for unit_id in self._units_by_run.pop(run_id, []):
                        self.units.pop(unit_id, None)
            for key in list(self.image_cache):
                if key[0] in dataset_ids or key[1] in workflowtask_ids:
                    del self.image_cache[key]
            for dataset_id in dataset_ids:
                self.dataset_images.pop(dataset_id, None)


def _clean(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "")


# --- the store -----------------------------------------------------------------------


class MemoryStore:
    """The default store: everything in this process's memory, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State.empty()
        self._counters: dict[str, Iterator[int]] = {}
        self._recorder = MemoryStoreRecorder(self)
        self._closed = False

    def unit_of_work(self) -> MemoryUnitOfWork:
        if self._closed:
            raise RepositoryError("This MemoryStore is closed.")
        return MemoryUnitOfWork(self)

    def recorder(self) -> MemoryStoreRecorder:
        """The store's one recorder (history lives as long as the store)."""
        return self._recorder

    def close(self) -> None:
        """Refuse new units of work (the data stays until garbage-collected)."""
        self._closed = True

    # -- internals for units of work and the recorder ------

    def _new_id(self, kind: str) -> int:
        with self._lock:
            counter = self._counters.setdefault(kind, itertools.count(1))
            return next(counter)

    def _commit(self, merge: Callable[[_State], _State]) -> _State:
        """Swap in `merge(latest state)` under the lock; nothing on error."""
        with self._lock:
            self._state = merge(self._state)
            return self._state

    def _forget_history(self, datasets: set[int], workflow_tasks: set[int]) -> None:
        if datasets or workflow_tasks:
            self._recorder.forget(datasets, workflow_tasks)

    def _committed_images(self, dataset_id: int) -> ImageList | None:
        """The committed images of a stored dataset (None if not stored)."""
        return self._state.images.get(dataset_id)

    def _set_images(self, dataset_id: Hashable, images: ImageList) -> bool:
        """Replace a stored dataset's images; False if the store lacks it."""
        with self._lock:
            state = self._state
            if not isinstance(dataset_id, int) or dataset_id not in state.datasets:
                return False
            self._state = replace(state, images={**state.images, dataset_id: images})
            return True

    def _update_job(self, job_id: Hashable, **changes: Any) -> None:
        """Apply recorder changes to a stored job (jobs unknown here are skipped)."""
        with self._lock:
            state = self._state
            if not isinstance(job_id, int) or job_id not in state.jobs:
                return
            job = state.jobs[job_id].model_copy(update=changes)
            self._state = replace(state, jobs={**state.jobs, job_id: job})
