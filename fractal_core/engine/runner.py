"""`run_workflow`: run a slice of a workflow's tasks on a dataset's images.

The loop of the reference's `execute_tasks` (execution spec §1.3), with the
newer fixes: an empty image list fails a non-converter task (2.17.1), task
descriptions in the log carry alias/package/version (2.19.2), every process
gets FRACTAL_CACHE_DIR (2.22.12), units carry `has_warnings` (2.23.2).
Per task: select images, record a history run, dispatch by task type, merge
the successful units' outputs, apply them atomically to the image list, write
the dataset's images, then fail the job if any unit failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from ..executors.base import Executor
from ..images.image_list import ImageList
from ..images.tools import IMAGE_STATUS_KEY
from ..types.filters import validate_filters
from ._gc import gc_paused
from .apply import AppliedOutput
from .apply import ListApplied
from .apply import apply_to_list
from .apply import touch_list
from .control import PROGRESS_LOGGER
from .control import JobControl
from .control import TaskProgress
from .dispatch import DISPATCH
from .dispatch import TaskContext
from .dispatch import cache_dir_env
from .errors import EmptyImageListError
from .errors import JobCancelledError
from .errors import JobExecutionError
from .fast_output import parse_task_output
from .outputs import MergedOutput
from .outputs import merge_outputs
from .outputs import merge_task_outputs
from .recorder import HistoryQueries
from .recorder import HistoryStatus
from .recorder import ImageChanges
from .recorder import InMemoryRecorder
from .recorder import Recorder
from .recorder import TaskApplied
from .selection import Selection
from .selection import select_images
from .settings import DEFAULT_MAX_PARALLELIZATION_LIST_SIZE
from .settings import EngineSettings
from .settings import default_fractal_cache_dir
from .settings import set_start_and_last_task_index
from .settings import user_fractal_cache_dir
from .task_info import CONVERTER_TYPES
from .task_info import default_package_of
from .task_info import dump_or_empty
from .task_info import task_description
from .task_info import task_dump_of
from .task_info import task_type_of
from .task_info import workflowtask_key
from .units import TaskOutcomes
from .units import UnitOutcome

__all__ = [
    "DEFAULT_MAX_PARALLELIZATION_LIST_SIZE",
    "apply_raw_output",
    "FailedUnit",
    "image_changes",
    "validate_job_filters",
    "workflowtask_key",
    "default_fractal_cache_dir",
    "default_package_of",
    "EngineSettings",
    "WorkflowRunResult",
    "run_workflow",
    "set_start_and_last_task_index",
    # defined in settings.py / task_info.py, importable from here as before
    "CONVERTER_TYPES",
    "task_description",
    "user_fractal_cache_dir",
]


@dataclass
class WorkflowRunResult:
    """The dataset's images after the last task that could be applied."""

    images: ImageList
    recorder: Recorder
    run_ids: list[int] = field(default_factory=list)


def _as_list(images: Any) -> ImageList:
    """The dataset's images as an ImageList version the engine may replace.

    An `ImageList` holds complete, validated images and is forked (O(1):
    applying outputs writes to a new version, never to the caller's list);
    anything else (a list of dicts) is validated here, which also fills the
    default keys.
    """
    if isinstance(images, ImageList):
        return images.copy()
    return ImageList(images)


def _status_filter(
    selection: Selection,
    statuses: Mapping[str, str],
    accepted: Sequence[Any],
) -> Selection:
    """Keep images whose first-task status is accepted (order preserved)."""
    wanted = set(accepted)
    return selection.keep([statuses.get(url) in wanted for url in selection.zarr_urls])


def _merge(
    outcomes: TaskOutcomes,
    selection: Selection,
    touch_only_successful_units: bool,
    pause_gc: bool = False,
) -> tuple[MergedOutput, Selection | None]:
    """The merged outputs, and the images to touch when they change nothing.

    `merge_task_outputs` spelled out: instead of one empty update per input
    image, the images to touch are returned as a selection (`touch_list`).
    """
    if not outcomes.any_ok:
        return MergedOutput(), None
    merged = merge_outputs(outcomes.outputs(), pause_gc=pause_gc)
    if not merged.is_empty:
        return merged, None
    touched = selection
    if touch_only_successful_units:
        ok_urls = outcomes.ok_urls()
        touched = selection.keep([url in ok_urls for url in selection.zarr_urls])
    return merged, touched


@dataclass
class _JobState:
    """What changes from task to task within one `run_workflow` call."""

    images: ImageList
    type_filters: dict[str, bool]
    attribute_filters: dict[str, list[Any]]  # without the status filter
    all_attribute_filters: dict[str, list[Any]]
    status_accepted: list[Any] | None
    first_task_statuses: dict[str, str] | None = None


@dataclass
class _Env:
    """Per-job constants every task needs."""

    dataset: Any
    dataset_id: Hashable
    zarr_dir: str
    executor: Executor
    recorder: Recorder
    job_id: Hashable
    settings: EngineSettings
    log: logging.Logger
    env: dict[str, str]
    root_dir_local: Path
    root_dir_remote: Path
    package_of: Callable[[Any], tuple[str | None, str | None]]
    task_group_dump_of: Callable[[Any], dict[str, Any]] | None
    control: JobControl | None


def run_workflow(
    *,
    wf_task_list: Sequence[Any],
    dataset: Any,
    executor: Executor,
    workflow_dir_local: Path,
    workflow_dir_remote: Path | None = None,
    recorder: Recorder | None = None,
    job_id: Hashable = None,
    job_type_filters: Mapping[str, bool] | None = None,
    job_attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    settings: EngineSettings | None = None,
    logger_name: str | None = None,
    package_of: Callable[[Any], tuple[str | None, str | None]] = default_package_of,
    task_group_dump_of: Callable[[Any], dict[str, Any]] | None = None,
    logger: logging.Logger | None = None,
    control: JobControl | None = None,
    first_task_position: int = 0,
    extra_env: Mapping[str, str] | None = None,
) -> WorkflowRunResult:
    """Run `wf_task_list` (already sliced, in order) on `dataset`.

    `dataset` needs `zarr_dir`, `images` (ImageList or list of image dicts) and
    optionally `id`; after every task whose outputs were applied,
    `dataset.images` is replaced by the new ImageList and the recorder is told.
    Raises JobExecutionError (or a subclass) when a task fails; the images of
    earlier tasks, and of the successful units of the failing task, stay applied
    (reference rule). Errors while applying outputs leave the task's images
    unchanged (TaskOutputApplicationError); a cancelled task applies nothing
    (JobCancelledError).

    `package_of(task)` gives (package name, version) for log lines and
    `task_group_dump_of(task)` the history run's task-group dump; both come from
    the caller's task groups (the engine does not look them up).
    `first_task_position` is the index of `wf_task_list[0]` in its workflow, so
    history keys do not depend on the slice; `control` carries cancellation
    and progress; `extra_env` is added to every unit's environment.
    """
    type_filters, all_attribute_filters = validate_job_filters(
        job_type_filters, job_attribute_filters
    )
    attribute_filters = dict(all_attribute_filters)
    settings = settings or EngineSettings()
    recorder = recorder if recorder is not None else InMemoryRecorder()
    log = logger or logging.getLogger(logger_name or __name__)
    workflow_dir_local = Path(workflow_dir_local)
    if not workflow_dir_local.exists():
        log.warning(
            "Now creating %s, but it should have already happened.", workflow_dir_local
        )
        workflow_dir_local.mkdir(parents=True)
    env = _Env(
        dataset=dataset,
        dataset_id=getattr(dataset, "id", None),
        zarr_dir=dataset.zarr_dir,
        executor=executor,
        recorder=recorder,
        job_id=job_id,
        settings=settings,
        log=log,
        env={
            **cache_dir_env(settings.fractal_cache_dir or user_fractal_cache_dir()),
            **dict(extra_env or {}),
        },
        root_dir_local=workflow_dir_local,
        root_dir_remote=Path(workflow_dir_remote or workflow_dir_local),
        package_of=package_of,
        task_group_dump_of=task_group_dump_of,
        control=control,
    )
    state = _JobState(
        images=_as_list(dataset.images),
        type_filters=type_filters,
        status_accepted=attribute_filters.pop(IMAGE_STATUS_KEY, None),
        attribute_filters=attribute_filters,
        all_attribute_filters=all_attribute_filters,
    )
    result = WorkflowRunResult(images=state.images.copy(), recorder=recorder)
    for position, wftask in enumerate(wf_task_list):
        if control is not None:
            control.check()
        key = workflowtask_key(wftask, first_task_position + position)
        run_id = _run_task(env, state, wftask, key, is_first=position == 0)
        result.run_ids.append(run_id)
        result.images = dataset.images
    return result


def validate_job_filters(
    type_filters: Mapping[str, bool] | None,
    attribute_filters: Mapping[str, Sequence[Any]] | None,
) -> tuple[dict[str, bool], dict[str, list[Any]]]:
    """A job's filters, read as `ImageList.filter` reads them (`validate_filters`).

    Raises `FilterError` (a ValueError) naming the bad key and value.
    """
    return validate_filters(type_filters, attribute_filters)


def _select(
    env: _Env, state: _JobState, wftask: Any, key: Hashable, *, is_first: bool
) -> Selection:
    """The task's images: filters, then (for reruns) the first task's statuses."""
    task = wftask.task
    task_type = task_type_of(task)
    selection = select_images(
        state.images,
        is_converter=task_type in CONVERTER_TYPES,
        current_type_filters=state.type_filters,
        task_input_types=getattr(task, "input_types", None) or {},
        wftask_type_filters=getattr(wftask, "type_filters", None) or {},
        attribute_filters=state.attribute_filters,
    )
    if state.status_accepted is None or task_type in CONVERTER_TYPES:
        return selection
    if state.first_task_statuses is None:
        # Statuses come from the first task of the slice only, computed once, as
        # in the reference (a converter first: nothing matches).
        state.first_task_statuses = (
            _image_status(env.recorder, env.dataset_id, key, state.images.zarr_urls())
            if is_first
            else {}
        )
    return _status_filter(selection, state.first_task_statuses, state.status_accepted)


def _image_status(
    recorder: Recorder, dataset_id: Hashable, key: Hashable, urls: list[str]
) -> dict[str, str]:
    if not isinstance(recorder, HistoryQueries):
        raise TypeError(
            f"Filtering by image status needs a recorder with history queries; "
            f"{type(recorder).__name__} has none."
        )
    return recorder.image_status(dataset_id, key, urls)


def _run_task(
    env: _Env, state: _JobState, wftask: Any, key: Hashable, *, is_first: bool
) -> int:
    """Run one workflow task end to end; return its history run id."""
    task = wftask.task
    task_type = task_type_of(task)
    description = task_description(wftask, task, env.package_of(task))
    env.log.debug("SUBMIT %s", description)
    _progress_log(env, "Task %s started.", description)
    selection = _select(env, state, wftask, key, is_first=is_first)
    run_id = env.recorder.run_started(
        dataset_id=env.dataset_id,
        workflowtask_id=key,
        job_id=env.job_id,
        task_id=getattr(task, "id", None),
        workflowtask_dump={
            **dump_or_empty(wftask, exclude={"task"}),
            "task": task_dump_of(task),
        },
        task_group_dump=env.task_group_dump_of(task) if env.task_group_dump_of else {},
        num_available_images=selection.num_available,
    )
    env.recorder.executor_error_log(job_id=env.job_id, text=None)
    if env.control is not None:
        env.control.task_started(
            TaskProgress(key=key, name=task.name, order=getattr(wftask, "order", None))
        )
    try:
        _check_not_empty(env, state, task, task_type, selection)
        outcomes, num_tasks = _dispatch(env, wftask, key, run_id, selection)
        merged, applied = _merge_and_apply(env, state, task, selection, outcomes)
    except BaseException as exc:
        # Cancelled, interrupted, empty selection or outputs that cannot be
        # applied: nothing of this task reaches the image list.
        if not isinstance(exc, EmptyImageListError):
            env.recorder.run_units_failed(run_id)
        env.recorder.run_ended(run_id, HistoryStatus.FAILED)
        _task_ended(env, key, "failed")
        if not isinstance(exc, EmptyImageListError):
            env.log.warning("END    %s - ERROR.", description)
        raise
    _persist(env, state, task, key, run_id, merged, applied, num_tasks)
    failures = outcomes.failures()
    if failures:
        env.recorder.run_ended(run_id, HistoryStatus.FAILED)
        _task_ended(env, key, "failed")
        env.log.warning("END    %s - ERROR.", description)
        _log_failures(env, description, failures)
        first = failures[0].exception
        raise JobExecutionError(
            info=f"An error occurred.\nOriginal error:\n{first}",
            failures=[_failure_info(wftask, o) for o in failures],
        ) from first
    env.recorder.run_ended(run_id, HistoryStatus.DONE)
    _task_ended(env, key, "done")
    env.log.debug("END    %s", description)
    _progress_log(env, "Task %s done.", description)
    return run_id


def _progress_log(env: _Env, message: str, *args: Any) -> None:
    """Per-task progress at INFO for the application (workflow.log keeps DEBUG)."""
    progress = logging.getLogger(PROGRESS_LOGGER)
    if progress.isEnabledFor(logging.INFO):
        progress.info("Job %s: " + message, env.job_id, *args)


def _task_ended(env: _Env, key: Hashable, status: str) -> None:
    if env.control is not None:
        env.control.task_ended(key, status)


def _check_not_empty(
    env: _Env, state: _JobState, task: Any, task_type: str, selection: Selection
) -> None:
    if (
        env.settings.fail_on_empty_image_list
        and task_type not in CONVERTER_TYPES
        and not selection.zarr_urls
    ):
        message = (
            f"Cannot run task '{task.name}' for an empty image list "
            f"(obtained after applying type_filters={selection.type_filters} "
            f"and attribute_filters={state.all_attribute_filters})."
        )
        env.log.info(message)
        raise EmptyImageListError(message)


def _dispatch(
    env: _Env, wftask: Any, key: Hashable, run_id: int, selection: Selection
) -> tuple[TaskOutcomes, int]:
    """Build, submit and judge the task's units (dispatch by task type)."""
    task = wftask.task
    task_type = task_type_of(task)
    ctx = TaskContext(
        wftask=wftask,
        task=task,
        task_type=task_type,
        zarr_dir=env.zarr_dir,
        root_dir_local=env.root_dir_local,
        root_dir_remote=env.root_dir_remote,
        executor=env.executor,
        recorder=env.recorder,
        run_id=run_id,
        dataset_id=env.dataset_id,
        workflowtask_key=key,
        env=env.env,
        max_parallelization_list_size=env.settings.max_parallelization_list_size,
        default_parallel_tasks_per_job=env.settings.parallel_tasks_per_job,
        default_unit_timeout_s=env.settings.unit_timeout_s,
        pause_gc=env.settings.pause_gc,
        control=env.control,
    )
    try:
        run_task = DISPATCH.get(task_type)
        if run_task is None:
            raise ValueError(f"Unexpected error: Invalid task.type={task_type!r}.")
        return run_task(ctx, selection.zarr_urls)
    except JobCancelledError:
        raise
    except Exception as exc:
        env.log.warning("Task '%s' could not run: %s", task.name, exc)
        env.recorder.run_units_failed(run_id)
        return TaskOutcomes.single(UnitOutcome(exception=exc)), 0


def _merge_and_apply(
    env: _Env,
    state: _JobState,
    task: Any,
    selection: Selection,
    outcomes: TaskOutcomes,
) -> tuple[MergedOutput, ListApplied]:
    """Merge the successful units' outputs and apply them to a new list version."""
    try:
        merged, touched = _merge(
            outcomes, selection, env.settings.touch_only_successful_units
        )
        output_types = getattr(task, "output_types", None) or {}
        if touched is not None:
            positions = touched.positions
            if positions is None:  # pragma: no cover - selections come from lists
                positions = [
                    p
                    for p in map(state.images._store.find, touched.zarr_urls)
                    if p is not None
                ]
            applied = touch_list(state.images, positions, output_types=output_types)
        else:
            merged.check_zarr_urls_are_unique()
            with gc_paused(env.settings.pause_gc):
                applied = apply_to_list(
                    state.images,
                    merged,
                    zarr_dir=env.zarr_dir,
                    output_types=output_types,
                )
    except Exception as exc:
        env.log.error(
            "Unexpected error in post-task-execution block. Original error: %s", exc
        )
        raise
    return merged, applied


def image_changes(
    before: Mapping[str, dict[str, Any]], applied: AppliedOutput
) -> ImageChanges:
    """What applying a task changed, in O(k) for k touched images."""
    after = applied.images
    if applied.updated_are_changes:
        return ImageChanges(
            created=[after[url] for url in applied.created if url in after],
            updated=[after[url] for url in applied.updated],
            removed=list(applied.removed),
        )
    updated = []
    for url in dict.fromkeys(applied.updated):
        new = after.get(url)
        if new is not None and new is not before.get(url) and new != before.get(url):
            updated.append(new)
    return ImageChanges(
        created=[after[url] for url in applied.created if url in after],
        updated=updated,
        removed=list(applied.removed),
    )


def _persist(
    env: _Env,
    state: _JobState,
    task: Any,
    key: Hashable,
    run_id: int,
    merged: MergedOutput,
    applied: ListApplied,
    num_tasks: int,
) -> None:
    """Make the applied images current and report them in one recorder event."""
    changes = _list_changes(applied)
    state.images = applied.images
    state.type_filters.update(getattr(task, "output_types", None) or {})
    images = state.images.copy()
    env.dataset.images = images
    _record_applied(
        env.recorder,
        TaskApplied(
            job_id=env.job_id,
            dataset_id=env.dataset_id,
            workflowtask_id=key,
            run_id=run_id,
            changes=changes,
            images=images,
            num_tasks=num_tasks,
            num_new_images=applied.num_new_images,
            executor_error_log=getattr(env.executor, "executor_error_log", None),
        ),
    )


def _list_changes(applied: ListApplied) -> ImageChanges:
    """What applying a task changed (image dicts built lazily), O(k)."""
    return applied.changes()


def _record_applied(recorder: Recorder, event: TaskApplied) -> None:
    """Tell the recorder a task's outputs were applied (one transaction)."""
    recorder.task_applied(event)


def apply_raw_output(
    images: ImageList,
    raw: Any,
    zarr_dir: str,
    output_types: Mapping[str, bool],
) -> tuple[ImageList, ImageChanges]:
    """One unit's raw output parsed, merged and applied to `images` (a copy).

    The engine's post-processing of a task in one call (for benchmarks and
    embedding code); `images` is left unchanged.
    """
    merged = merge_task_outputs([parse_task_output(raw)], [])
    merged.check_zarr_urls_are_unique()
    applied = apply_to_list(
        images, merged, zarr_dir=zarr_dir, output_types=output_types
    )
    return applied.images, applied.changes()


@dataclass(frozen=True)
class FailedUnit:
    """A failed unit as a person needs it: which task, which images, which log."""

    task_name: str
    task_order: int | None
    zarr_urls: list[str]
    message: str
    log_file: str | None


def _failure_info(wftask: Any, outcome: UnitOutcome) -> FailedUnit:
    exc = outcome.exception
    message = str(exc)
    if len(message) > 2000:
        message = message[:2000] + f"... ({len(message) - 2000} more characters)"
    return FailedUnit(
        task_name=wftask.task.name,
        task_order=getattr(wftask, "order", None),
        zarr_urls=list(outcome.zarr_urls),
        message=message,
        log_file=getattr(exc, "log_file", None),
    )


def _log_failures(env: _Env, description: str, failures: list[UnitOutcome]) -> None:
    """One WARNING line naming the failed task, how many units and which images."""
    urls = [url for o in failures for url in o.zarr_urls]
    shown = ", ".join(urls[:5]) + (
        f" and {len(urls) - 5} more" if len(urls) > 5 else ""
    )
    env.log.warning(
        "%s: %d unit(s) failed%s.",
        description,
        len(failures),
        f" on images {shown}" if urls else "",
    )
