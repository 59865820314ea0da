"""Look-ups along the ownership chain, shared by every service (spec §2).

The project is looked up first, so a missing project wins over a missing
child; a child under another parent raises `WrongParentError`, a missing one
the repository's `NotFoundError`.
"""

from __future__ import annotations

from ..domain.dataset import Dataset
from ..domain.job import Job
from ..domain.job import JobStatus
from ..domain.project import Project
from ..domain.task import Task
from ..domain.task_group import TaskGroup
from ..domain.workflow import Workflow
from ..domain.workflow_task import WorkflowTask
from ..repository.base import NotFoundError
from ..repository.base import UnitOfWork
from .errors import WrongParentError


def get_project(uow: UnitOfWork, project_id: int) -> Project:
    """The project (NotFoundError if missing)."""
    return uow.projects.get(project_id)


def get_dataset(
    uow: UnitOfWork, project_id: int, dataset_id: int, *, with_images: bool = False
) -> Dataset:
    """The dataset of `project_id` (images loaded only when asked)."""
    get_project(uow, project_id)
    dataset = uow.datasets.get(dataset_id, with_images=with_images)
    if dataset.project_id != project_id:
        raise WrongParentError("dataset", dataset_id, "project", project_id)
    return dataset


def get_workflow(uow: UnitOfWork, project_id: int, workflow_id: int) -> Workflow:
    """The workflow of `project_id`, with its task list."""
    get_project(uow, project_id)
    workflow = uow.workflows.get(workflow_id)
    if workflow.project_id != project_id:
        raise WrongParentError("workflow", workflow_id, "project", project_id)
    return workflow


def find_workflow_task(workflow: Workflow, workflow_task_id: int) -> int:
    """Position of workflow task `workflow_task_id` in `workflow`.

    Raises `WrongParentError` when the id belongs to another workflow, and
    `NotFoundError` otherwise (the caller checks other workflows if needed).
    """
    for position, wftask in enumerate(workflow.task_list):
        if wftask.id == workflow_task_id:
            return position
    raise NotFoundError(f"WorkflowTask {workflow_task_id} not found.")


def get_workflow_task(
    uow: UnitOfWork, project_id: int, workflow_id: int, workflow_task_id: int
) -> tuple[Workflow, int]:
    """(workflow, position) of a workflow task, checking the whole chain."""
    workflow = get_workflow(uow, project_id, workflow_id)
    try:
        return workflow, find_workflow_task(workflow, workflow_task_id)
    except NotFoundError:
        for other in uow.workflows.list():
            if any(wft.id == workflow_task_id for wft in other.task_list):
                raise WrongParentError(
                    "workflow_task", workflow_task_id, "workflow", workflow_id
                ) from None
        raise


def get_job(uow: UnitOfWork, project_id: int, job_id: int) -> Job:
    """The job of `project_id`."""
    get_project(uow, project_id)
    job = uow.jobs.get(job_id)
    if job.project_id != project_id:
        raise WrongParentError("job", job_id, "project", project_id)
    return job


def get_task(uow: UnitOfWork, task_id: int) -> Task:
    """The task, linked to its stored group."""
    return uow.task_groups.get_task(task_id)


def group_of(uow: UnitOfWork, task: Task) -> TaskGroup | None:
    """The stored group of `task` (None for a task outside any stored group)."""
    if task.task_group is not None and task.task_group.id is not None:
        return task.task_group
    if task.id is not None:
        try:
            return uow.task_groups.get_task(task.id).task_group
        except NotFoundError:
            return None
    if task.taskgroupv2_id is not None:
        return uow.task_groups.get(task.taskgroupv2_id)
    return None


def linked_task(uow: UnitOfWork, wftask: WorkflowTask) -> Task:
    """The workflow task's task as stored now, linked to its group."""
    if wftask.task_id is not None:
        try:
            return uow.task_groups.get_task(wftask.task_id)
        except NotFoundError:
            return wftask.task
    return wftask.task


def submitted_job_ids(
    uow: UnitOfWork,
    *,
    project_id: int | None = None,
    dataset_id: int | None = None,
    workflow_id: int | None = None,
) -> list[int]:
    """Ids of the `submitted` jobs matching the given ids (spec §2.2)."""
    jobs = uow.jobs.list(
        project_id=project_id,
        dataset_id=dataset_id,
        workflow_id=workflow_id,
        status=JobStatus.SUBMITTED,
    )
    return sorted(job.id for job in jobs if job.id is not None)
