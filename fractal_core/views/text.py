"""One-line reprs: what an object is, in well under 200 characters.

Each function reads its object by attribute (duck typing), so this module
imports nothing from the domain or the engine and any layer may call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "clip",
    "dataset_repr",
    "image_list_repr",
    "job_handle_repr",
    "job_outcome_repr",
    "job_repr",
    "names_list",
    "task_group_repr",
    "task_repr",
    "workflow_repr",
    "workflow_task_repr",
]

MAX_REPR = 200


def clip(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(x: Any) -> Any:
    """An enum's value, anything else unchanged (for compact output)."""
    return getattr(x, "value", x)


def names_list(names: Iterable[str], budget: int = 120, *, quote: bool = True) -> str:
    """Comma-separated names that fit in `budget` characters, then "+N more"."""
    items = [repr(clip(n, 40)) if quote else clip(n, 40) for n in names]
    shown: list[str] = []
    used = 0
    for i, item in enumerate(items):
        if used + len(item) + 2 > budget and shown:
            return ", ".join(shown) + f", +{len(items) - i} more"
        shown.append(item)
        used += len(item) + 2
    return ", ".join(shown)


def _id_part(obj: Any) -> str:
    """` id=N` when the object has been stored (has an id), else nothing."""
    value = getattr(obj, "id", None)
    return "" if value is None else f" id={value}"


def workflow_repr(workflow: Any) -> str:
    """`<Workflow 'name' id=..: N tasks [names...]>`, at most ~185 characters."""
    tasks = list(workflow.task_list)
    names = names_list((_wftask_label(wft) for wft in tasks), budget=100)
    return (
        f"<Workflow {clip(workflow.name, 40)!r}{_id_part(workflow)}: "
        f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} [{names}]>"
    )


def _wftask_label(wftask: Any) -> str:
    """A workflow task's alias, else its task's name."""
    return str(getattr(wftask, "alias", None) or wftask.task.name)


def workflow_task_repr(wftask: Any) -> str:
    """`<WorkflowTask #order 'task' alias=.. (type) id=..>`."""
    task = wftask.task
    kind = _value(getattr(wftask, "task_type", None) or getattr(task, "type", None))
    alias = getattr(wftask, "alias", None)
    alias_part = f" alias={clip(alias, 40)!r}" if alias else ""
    return (
        f"<WorkflowTask #{wftask.order} {clip(task.name)!r}{alias_part} "
        f"({kind}){_id_part(wftask)}>"
    )


def task_repr(task: Any) -> str:
    """`<Task 'name' (type) from package version id=..>`."""
    package = getattr(task, "package", (None, getattr(task, "version", None)))
    pkg, version = package
    shown = clip(str(version), 30)
    where = f" from {clip(str(pkg), 40)} {shown}" if pkg else f" {shown}"
    return f"<Task {clip(task.name)!r} ({_value(task.type)}){where}{_id_part(task)}>"


def task_group_repr(group: Any) -> str:
    """`<TaskGroup package version (origin, N tasks, active|inactive) id=..>`."""
    n = len(group.task_list)
    state = "active" if group.active else "inactive"
    return (
        f"<TaskGroup {clip(group.pkg_name, 50)} {clip(str(group.version), 30)} "
        f"({_value(group.origin)}, {n} task{'s' if n != 1 else ''}, {state})"
        f"{_id_part(group)}>"
    )


def dataset_repr(dataset: Any) -> str:
    """`<Dataset 'name' id=.. zarr_dir='..', N images>`, never the images."""
    n = len(dataset.images)
    return (
        f"<Dataset {clip(dataset.name, 40)!r}{_id_part(dataset)} "
        f"zarr_dir={clip(str(dataset.zarr_dir), 70)!r}, "
        f"{n} image{'s' if n != 1 else ''}>"
    )


def image_list_repr(images: Any) -> str:
    """`ImageList(len=N, first=...)`, the first zarr_url clipped to 100 characters."""
    first = next((image["zarr_url"] for image in images), None)
    head = f", first={clip(first, 100)!r}" if first is not None else ""
    return f"ImageList(len={len(images)}{head})"


def job_repr(job: Any) -> str:
    """`<Job id=.. status tasks i-j dataset=.. workflow=..>`, never the dumps."""
    return (
        f"<Job{_id_part(job)} {_value(job.status)} "
        f"tasks {job.first_task_index}-{job.last_task_index} "
        f"dataset={job.dataset_id} workflow={job.workflow_id}>"
    )


def job_outcome_repr(outcome: Any) -> str:
    """`<JobOutcome id status: N tasks run, M failures>`."""
    tasks = len(outcome.progress)
    failures = len(outcome.failures)
    reason = outcome.cancel_reason
    extra = f", cancelled: {clip(reason, 50)!r}" if reason else ""
    return (
        f"<JobOutcome {outcome.job_id} {_value(outcome.status)}: "
        f"{tasks} task{'s' if tasks != 1 else ''} run, "
        f"{failures} failure{'s' if failures != 1 else ''}{extra}>"
    )


def progress_summary(tasks: Iterable[Any]) -> str:
    """`name units d/t` per task (failed units shown when any), comma-separated."""
    parts = []
    for task in tasks:
        failed = f" ({task.units_failed} failed)" if task.units_failed else ""
        parts.append(
            f"{clip(task.name, 30)} {task.units_done}/{task.units_total}{failed}"
        )
    return names_list(parts, quote=False) if parts else "no task yet"


def job_handle_repr(handle: Any) -> str:
    """`<JobHandle id status: per-task units done/total>`."""
    return (
        f"<JobHandle {handle.id} {_value(handle.status)}: "
        f"{progress_summary(handle.progress())}>"
    )
