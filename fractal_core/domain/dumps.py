"""Dumps: JSON snapshots stored in jobs and history runs.

They keep a job or run readable after its project, workflow, dataset or task
changed or disappeared. Timestamps are ISO strings; ids may be `None` for
objects never stored in a repository.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from .dataset import Dataset
from .project import Project
from .task import Task
from .task import TaskType
from .task_group import TaskGroup
from .task_group import TaskGroupOrigin
from .workflow import Workflow
from .workflow_task import WorkflowTask


class ProjectDump(BaseModel):
    """Project snapshot (without members and resource)."""

    model_config = ConfigDict(extra="forbid")
    id: int | None
    name: str
    timestamp_created: str


class WorkflowDump(BaseModel):
    """Workflow snapshot (without its task list)."""

    model_config = ConfigDict(extra="ignore")
    id: int | None
    name: str
    project_id: int | None
    timestamp_created: str


class DatasetDump(BaseModel):
    """Dataset snapshot (without images); legacy filter keys are tolerated."""

    model_config = ConfigDict(extra="ignore")
    id: int | None
    name: str
    project_id: int | None
    timestamp_created: str
    zarr_dir: str


class TaskDump(BaseModel):
    """Compact task snapshot; `source`/null `version` are read from old dumps."""

    id: int | None
    name: str
    type: TaskType
    command_non_parallel: str | None = None
    command_parallel: str | None = None
    source: str | None = None
    version: str | None = None
    input_types: dict[str, bool]
    output_types: dict[str, bool]


class WorkflowTaskDump(BaseModel):
    """Workflow-task snapshot; extra keys (args, meta, alias, ...) are kept."""

    model_config = ConfigDict(extra="allow")
    id: int | None
    workflow_id: int | None
    order: int | None = None
    type_filters: dict[str, bool]
    task_id: int | None = None
    task: TaskDump | None = None


class TaskGroupDump(BaseModel):
    """Task-group snapshot stored with history runs."""

    id: int | None
    origin: TaskGroupOrigin
    pkg_name: str
    version: str | None = None
    python_version: str | None = None
    pip_extras: str | None = None
    pinned_package_versions_pre: dict[str, str] = Field(default_factory=dict)
    pinned_package_versions_post: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    venv_path: str | None = None
    archive_path: str | None = None


def dump_project(project: Project) -> dict[str, Any]:
    """`project_dump` of a job."""
    return ProjectDump(
        id=project.id,
        name=project.name,
        timestamp_created=project.timestamp_created.isoformat(),
    ).model_dump(mode="json")


def dump_workflow(workflow: Workflow) -> dict[str, Any]:
    """`workflow_dump` of a job (no task list, description or UI fields)."""
    return WorkflowDump(
        id=workflow.id,
        name=workflow.name,
        project_id=workflow.project_id,
        timestamp_created=workflow.timestamp_created.isoformat(),
    ).model_dump(mode="json")


def dump_dataset(dataset: Dataset) -> dict[str, Any]:
    """`dataset_dump` of a job (no images)."""
    return DatasetDump(
        id=dataset.id,
        name=dataset.name,
        project_id=dataset.project_id,
        timestamp_created=dataset.timestamp_created.isoformat(),
        zarr_dir=dataset.zarr_dir,
    ).model_dump(mode="json")


def dump_task(task: Task) -> dict[str, Any]:
    """Compact task snapshot."""
    return TaskDump.model_validate(task.model_dump(), from_attributes=False).model_dump(
        mode="json"
    )


def dump_workflow_task(wftask: WorkflowTask) -> dict[str, Any]:
    """`workflowtask_dump` of a history run: every field, the task compacted."""
    data = wftask.model_dump(mode="json", exclude={"task"})
    data["task"] = dump_task(wftask.task)
    return WorkflowTaskDump.model_validate(data).model_dump(mode="json")


def dump_task_group(task_group: TaskGroup) -> dict[str, Any]:
    """`task_group_dump` of a history run."""
    return TaskGroupDump.model_validate(
        task_group.model_dump(include=set(TaskGroupDump.model_fields))
    ).model_dump(mode="json")
