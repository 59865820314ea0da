"""Small builders shared by the service tests (objects stored through a Store)."""

from __future__ import annotations

from typing import Any

from fractal_core.domain.job import Job
from fractal_core.domain.job import JobStatus
from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup
from fractal_core.repository.base import Store

ZARR_DIR = "/data/zarr"


def make_task(name: str, task_type: str = "parallel", **fields: Any) -> Task:
    """A task of `task_type` with the commands its type needs."""
    commands: dict[str, str] = {}
    if task_type != "parallel":
        commands["command_non_parallel"] = f"python3 /tasks/{name}_np.py"
    if task_type in ("parallel", "compound", "converter_compound"):
        commands["command_parallel"] = f"python3 /tasks/{name}_p.py"
    return Task(name=name, type=task_type, **commands, **fields)  # type: ignore[arg-type]


def add_group(
    store: Store,
    tasks: list[Task],
    *,
    pkg_name: str = "fractal-tasks-demo",
    version: str = "1.0.0",
    active: bool = True,
    **fields: Any,
) -> TaskGroup:
    """Store a task group holding `tasks`; return it with ids."""
    group = TaskGroup(
        origin="other",
        pkg_name=pkg_name,
        version=version,
        active=active,
        task_list=tasks,
        **fields,
    )
    with store.unit_of_work() as uow:
        stored = uow.task_groups.add(group)
        uow.commit()
    return stored


def add_job(
    store: Store,
    *,
    project_id: int | None,
    dataset_id: int | None = None,
    workflow_id: int | None = None,
    status: JobStatus = JobStatus.SUBMITTED,
) -> Job:
    """Store a job record directly (no run), e.g. to block deletions."""
    job = Job(
        project_id=project_id,
        dataset_id=dataset_id,
        workflow_id=workflow_id,
        first_task_index=0,
        last_task_index=0,
        status=status,
    )
    with store.unit_of_work() as uow:
        stored = uow.jobs.add(job)
        uow.commit()
    return stored


def image(url: str, **attributes: Any) -> dict[str, Any]:
    """A stored-shape image dict."""
    return {"zarr_url": url, "origin": None, "attributes": attributes, "types": {}}
