"""Request bodies and answers of the example backend.

Only the shape of the HTTP requests lives here; every rule about their
content (names, filters, task slices, arguments) is checked by
`fractal_core.services`, whose refusals become 404/409/422 answers.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import model_validator

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import Job
from fractal_core.domain.job import JobCreate
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.domain.workflow import Workflow
from fractal_core.engine.control import TaskProgress


class Body(BaseModel):
    """Unknown fields are refused (a typo is a 422, not silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class CollectRequest(Body):
    """A wheel file on the server, or a package name (and version) on PyPI."""

    wheel_path: str | None = None
    package: str | None = None
    version: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CollectRequest:
        if (self.wheel_path is None) == (self.package is None):
            raise ValueError("Give exactly one of `wheel_path` and `package`.")
        if self.wheel_path is not None and self.version is not None:
            raise ValueError("`version` goes with `package`, not with `wheel_path`.")
        return self


class ProjectCreate(Body):
    name: str


class DatasetCreate(Body):
    """Without `zarr_dir`, the services derive one under the data folder."""

    name: str
    zarr_dir: str | None = None


class WorkflowTaskCreate(Body):
    """One task of a new workflow, as `services.create_workflow_task` takes it."""

    task_id: int
    args_non_parallel: dict[str, Any] | None = None
    args_parallel: dict[str, Any] | None = None
    meta_non_parallel: dict[str, Any] | None = None
    meta_parallel: dict[str, Any] | None = None
    type_filters: dict[str, bool] | None = None


class WorkflowCreate(Body):
    name: str
    description: str | None = None
    tasks: list[WorkflowTaskCreate] = []


class JobSubmit(JobCreate):
    """The workflow and dataset to run, plus the library's own `JobCreate`."""

    workflow_id: int
    dataset_id: int

    def job_create(self) -> JobCreate:
        """The library's request, with only the fields the client gave."""
        given = self.model_dump(
            exclude={"workflow_id", "dataset_id"}, exclude_unset=True
        )
        return JobCreate.model_validate(given)


class StopRequest(Body):
    reason: str = "stop requested by the user"


class ImageQuery(Body):
    """Filters of an image query (the page is in the query string)."""

    zarr_url: str | None = None
    type_filters: dict[str, Any] | None = None
    attribute_filters: dict[str, list[Any]] | None = None


def project_read(project: Any) -> dict[str, Any]:
    return {"id": project.id, "name": project.name}


def dataset_read(dataset: Dataset) -> dict[str, Any]:
    return {
        "id": dataset.id,
        "project_id": dataset.project_id,
        "name": dataset.name,
        "zarr_dir": dataset.zarr_dir,
    }


def workflow_read(workflow: Workflow, warnings: list[Any]) -> dict[str, Any]:
    tasks = [
        {
            "id": wftask.id,
            "order": wftask.order,
            "task_id": wftask.task_id,
            "task_name": wftask.task.name if wftask.task else None,
            "args_non_parallel": wftask.args_non_parallel,
            "args_parallel": wftask.args_parallel,
            "type_filters": wftask.type_filters,
            "warning": warning,
        }
        for wftask, warning in zip(workflow.task_list, warnings, strict=False)
    ]
    return {
        "id": workflow.id,
        "project_id": workflow.project_id,
        "name": workflow.name,
        "task_list": tasks,
    }


def group_read(group: TaskGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "pkg_name": group.pkg_name,
        "version": group.version,
        "origin": str(group.origin),
        "active": group.active,
        "path": group.path,
        "tasks": [
            {"id": t.id, "name": t.name, "type": str(t.type)} for t in group.task_list
        ],
    }


def activity_read(activity: TaskGroupActivity) -> dict[str, Any]:
    return activity.model_dump(mode="json")


def job_read(job: Job, progress: list[TaskProgress] | None = None) -> dict[str, Any]:
    """A job without its dumps and log (see the `/log` route for the log)."""
    read = job.model_dump(
        mode="json",
        include={
            "id",
            "project_id",
            "workflow_id",
            "dataset_id",
            "status",
            "start_timestamp",
            "end_timestamp",
            "first_task_index",
            "last_task_index",
            "working_dir",
            "type_filters",
            "attribute_filters",
        },
    )
    if progress is not None:
        read["progress"] = [asdict(p) for p in progress]
    return read
