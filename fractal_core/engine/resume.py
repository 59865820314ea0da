"""Resume one workflow task on only the images it failed on (or never reached).

`resume_task` is `run_job` on a one-task slice with the reference's image
status filter: the images whose latest status for that task is `failed` (or
`unset`, never processed) are selected, the others keep the results they
already have. It needs the recorder that recorded the first attempt (the
statuses live there; a SQL store keeps them across processes), and it checks
everything, including that there is something to rerun, before a job folder
exists. `resume_plan` answers the same question without running anything.
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.history import HistoryUnitStatusWithUnset
from ..errors import FractalCoreError
from ..images.image_list import ImageList
from ..images.tools import IMAGE_STATUS_KEY
from ..types.filters import validate_filters
from .job import JobOutcome
from .job import run_job
from .recorder import HistoryQueries
from .runner import CONVERTER_TYPES
from .runner import workflowtask_key
from .selection import select_images

__all__ = [
    "DEFAULT_RESUME_STATUSES",
    "NothingToResumeError",
    "ResumeError",
    "ResumePlan",
    "resume_plan",
    "resume_task",
]

DEFAULT_RESUME_STATUSES: tuple[str, ...] = ("failed", "unset")
_KNOWN_STATUSES = tuple(s.value for s in HistoryUnitStatusWithUnset)


class ResumeError(FractalCoreError, ValueError):
    """A resume request that cannot be run (bad task, statuses or recorder)."""


class NothingToResumeError(ResumeError):
    """No image of the task has one of the requested statuses."""


@dataclass(frozen=True)
class ResumePlan:
    """What `resume_task` would rerun: the task, its key and the images."""

    index: int
    key: Hashable
    task_name: str
    statuses: tuple[str, ...]
    zarr_urls: list[str]
    status_counts: dict[str, int]


def _task_index(workflow: Any, task: Any) -> int:
    """Position of `task` (a workflow task, an index or a task name)."""
    tasks = list(workflow.task_list)
    if isinstance(task, int) and not isinstance(task, bool):
        if not 0 <= task < len(tasks):
            raise ResumeError(
                f"task={task!r} is not a task index of workflow "
                f"{workflow.name!r} (it has {len(tasks)} tasks)."
            )
        return task
    for position, wft in enumerate(tasks):
        if wft is task:
            return position
    if isinstance(task, str):
        names = [
            pos for pos, wft in enumerate(tasks) if task in (wft.alias, wft.task.name)
        ]
        if len(names) == 1:
            return names[0]
        problem = "no task" if not names else f"{len(names)} tasks"
        raise ResumeError(
            f"task={task!r}: workflow {workflow.name!r} has {problem} with that "
            "name or alias; pass the workflow task or its index."
        )
    raise ResumeError(
        f"task={task!r} is not a task of workflow {workflow.name!r}; pass the "
        "workflow task itself, its index or its name."
    )


def _check_statuses(statuses: Iterable[str] | str) -> tuple[str, ...]:
    """Known statuses only; one status may be given as a plain string (it was
    read letter by letter: statuses=['f', 'a', 'i', ...])."""
    if isinstance(statuses, str) or hasattr(statuses, "value"):
        statuses = (statuses,)  # type: ignore[assignment]
    if not isinstance(statuses, Iterable):
        raise ResumeError(
            f"statuses={statuses!r}: give one or more of {', '.join(_KNOWN_STATUSES)}."
        )
    checked = tuple(str(getattr(s, "value", s)) for s in statuses)
    bad = [s for s in checked if s not in _KNOWN_STATUSES]
    if not checked or bad:
        raise ResumeError(
            f"statuses={list(checked)!r}: give one or more of "
            f"{', '.join(_KNOWN_STATUSES)}."
        )
    return checked


def resume_plan(
    workflow: Any,
    dataset: Any,
    task: Any,
    *,
    recorder: Any,
    statuses: Iterable[str] = DEFAULT_RESUME_STATUSES,
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
) -> ResumePlan:
    """The images `resume_task` would rerun, selected exactly as the engine does."""
    index = _task_index(workflow, task)
    checked = _check_statuses(statuses)
    # FilterError naming key and value, as run_job would raise (a wrong shape
    # was a bare TypeError from dict(), or silently selected nothing)
    type_filters, attribute_filters = validate_filters(type_filters, attribute_filters)
    if not isinstance(recorder, HistoryQueries):
        raise ResumeError(
            f"recorder={type(recorder).__name__}: resuming needs the recorder that "
            "recorded the first attempt and answers history queries."
        )
    wft = workflow.task_list[index]
    kind = getattr(getattr(wft.task, "type", None), "value", wft.task.type)
    if kind in CONVERTER_TYPES:
        raise ResumeError(
            f"task={wft.task.name!r} is a converter ({kind}): it receives no "
            "images, so it cannot be resumed image by image; rerun it instead."
        )
    if attribute_filters and IMAGE_STATUS_KEY in attribute_filters:
        raise ResumeError(
            f"attribute_filters: {IMAGE_STATUS_KEY!r} is set by resume_task "
            "from `statuses`; do not pass it."
        )
    images = dataset.images
    image_list = images if isinstance(images, ImageList) else ImageList(images)
    selection = select_images(
        image_list,
        is_converter=False,
        current_type_filters=dict(type_filters or {}),
        task_input_types=wft.task.input_types or {},
        wftask_type_filters=wft.type_filters or {},
        attribute_filters=dict(attribute_filters or {}),
    )
    key = workflowtask_key(wft, index)
    status = recorder.image_status(
        getattr(dataset, "id", None), key, selection.zarr_urls
    )
    counts: dict[str, int] = {}
    for value in status.values():
        counts[value] = counts.get(value, 0) + 1
    return ResumePlan(
        index=index,
        key=key,
        task_name=wft.task.name,
        statuses=checked,
        zarr_urls=[url for url in selection.zarr_urls if status[url] in checked],
        status_counts=counts,
    )


def resume_task(
    workflow: Any,
    dataset: Any,
    task: Any,
    *,
    recorder: Any,
    executor: Any,
    working_dir: Any,
    statuses: Iterable[str] = DEFAULT_RESUME_STATUSES,
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    **run_job_kwargs: Any,
) -> JobOutcome:
    """Rerun one workflow task on the images whose status is in `statuses`.

    `task` is the workflow task, its index or its (unique) name or alias.
    Other keyword arguments go to `run_job` (job, settings, timeout, ...).
    Raises `NothingToResumeError` when no image qualifies and `ResumeError`
    for a bad request, both before anything is written.
    """
    plan = resume_plan(
        workflow,
        dataset,
        task,
        recorder=recorder,
        statuses=statuses,
        type_filters=type_filters,
        attribute_filters=attribute_filters,
    )
    if not plan.zarr_urls:
        raise NothingToResumeError(
            f"Task {plan.task_name!r} (#{plan.index}) has no image with status "
            f"{' or '.join(plan.statuses)} (statuses now: {plan.status_counts})."
            + _filtered_out_hint(workflow, dataset, plan, recorder)
        )
    for name in ("first_task_index", "last_task_index"):
        if name in run_job_kwargs:
            raise ResumeError(f"{name}: resume_task runs exactly the task given.")
    return run_job(
        workflow=workflow,
        dataset=dataset,
        executor=executor,
        working_dir=working_dir,
        recorder=recorder,
        first_task_index=plan.index,
        last_task_index=plan.index,
        type_filters=type_filters,
        attribute_filters={
            **dict(attribute_filters or {}),
            IMAGE_STATUS_KEY: list(plan.statuses),
        },
        **run_job_kwargs,
    )


def _filtered_out_hint(
    workflow: Any, dataset: Any, plan: ResumePlan, recorder: Any
) -> str:
    """Why images recorded with a wanted status were not selected, if they exist.

    The usual cause: a failed run of a task that returns nothing still gives
    every selected image the task's output types (the reference's rule), so
    the failed images no longer match its input types.
    """
    recorded = recorder.image_status(getattr(dataset, "id", None), plan.key)
    present = {image["zarr_url"] for image in dataset.images}
    left_out = [
        url
        for url, status in recorded.items()
        if status in plan.statuses and url in present
    ]
    if not left_out:
        return ""
    wft = workflow.task_list[plan.index]
    return (
        f" {len(left_out)} image(s) recorded as {' or '.join(plan.statuses)} "
        f"(e.g. {left_out[0]!r}) no longer pass the task's filters (input "
        f"types {dict(wft.task.input_types or {})}, workflow-task type filters "
        f"{dict(wft.type_filters or {})}): a failed run of a task that returns "
        "nothing gives every selected image its output types, as the reference "
        "does. Run the task with EngineSettings(touch_only_successful_units=True) "
        "to keep failed images selectable."
    )
