"""`MemoryUnitOfWork`: pending writes over a snapshot, merged at commit
(images replayed by zarr_url over another writer's, row semantics)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any
from typing import Self

from ...domain.dataset import Dataset
from ...domain.job import Job
from ...domain.project import Project
from ...domain.task_group import TaskGroup
from ...domain.task_group import TaskGroupActivity
from ...domain.workflow import Workflow
from ...images.image_list import ImageList
from ..base import ConflictError
from .datasets import MemoryDatasets
from .jobs import MemoryJobs
from .jobs import check_single_submitted
from .projects import MemoryProjects
from .state import GONE
from .state import ImageOp
from .state import State
from .state import Table
from .task_groups import MemoryTaskGroups
from .workflows import MemoryWorkflows

if TYPE_CHECKING:
    from .store import MemoryStore


class MemoryUnitOfWork:
    """Pending changes over a snapshot; see the module docstring."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._begin(store._state)
        self.projects = MemoryProjects(self)
        self.datasets = MemoryDatasets(self)
        self.workflows = MemoryWorkflows(self)
        self.task_groups = MemoryTaskGroups(self)
        self.jobs = MemoryJobs(self)

    def _begin(self, state: State) -> None:
        self.t_projects: Table[Project] = Table("Project", state.projects)
        self.t_datasets: Table[Dataset] = Table("Dataset", state.datasets)
        self.t_images: Table[ImageList] = Table("Dataset", state.images)
        self.t_workflows: Table[Workflow] = Table("Workflow", state.workflows)
        self.t_groups: Table[TaskGroup] = Table("Task group", state.task_groups)
        self.t_jobs: Table[Job] = Table("Job", state.jobs)
        self.t_activities: Table[TaskGroupActivity] = Table(
            "Task group activity", state.activities
        )
        self.gone_datasets: set[int] = set()
        self.gone_workflow_tasks: set[int] = set()
        self.gone_image_status: list[tuple[int, list[str]]] = []
        # dataset id -> image operations, replayed at commit when another
        # writer changed the same dataset's images meanwhile
        self.image_ops: dict[int, list[ImageOp]] = {}

    def _tables(self) -> dict[str, Table[Any]]:
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

    def _merged(self, current: State) -> State:
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
            if images is GONE or dataset_id not in datasets:
                merged.pop(dataset_id, None)
                continue
            ops = self.image_ops.get(dataset_id, [])
            if current.get(dataset_id) is self.t_images.base.get(dataset_id):
                merged[dataset_id] = images  # nobody else wrote them
            elif None in ops:
                merged[dataset_id] = images  # replaced as a whole here
            else:
                merged[dataset_id] = replayed(
                    dataset_id, current.get(dataset_id, ImageList()), ops, images
                )
        return merged

    def _check_jobs_against(self, jobs: dict[int, Job]) -> None:
        """Re-check one-submitted-job-per-dataset on the merged job table."""
        for job_id, job in self.t_jobs.pending.items():
            if job is not GONE:
                check_single_submitted(jobs.values(), job, job_id)

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


def replayed(
    dataset_id: int, current: ImageList, ops: list[ImageOp], own: ImageList
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
