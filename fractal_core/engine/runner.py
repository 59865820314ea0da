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
import os
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ..domain.dumps import TaskDump
from ..executors.base import Executor
from ..images.image_list import ImageList
from ..images.tools import IMAGE_STATUS_KEY
from ..types import AttributeFilters
from ..types import TypeFilters
from .apply import ImageIndex
from .apply import apply_task_output
from .dispatch import DISPATCH
from .dispatch import TaskContext
from .dispatch import UnitOutcome
from .dispatch import cache_dir_env
from .errors import EmptyImageListError
from .errors import InvalidTaskRange
from .errors import JobExecutionError
from .outputs import MergedOutput
from .outputs import merge_task_outputs
from .recorder import HistoryStatus
from .recorder import InMemoryRecorder
from .recorder import Recorder
from .selection import Selection
from .selection import select_images

__all__ = [
    "DEFAULT_MAX_PARALLELIZATION_LIST_SIZE",
    "default_fractal_cache_dir",
    "default_package_of",
    "EngineSettings",
    "WorkflowRunResult",
    "run_workflow",
    "set_start_and_last_task_index",
]

DEFAULT_MAX_PARALLELIZATION_LIST_SIZE = 20_000
_TYPE_FILTERS: TypeAdapter[dict[str, bool]] = TypeAdapter(TypeFilters)
_ATTRIBUTE_FILTERS: TypeAdapter[dict[str, list[Any]]] = TypeAdapter(AttributeFilters)
CONVERTER_TYPES = frozenset({"converter_non_parallel", "converter_compound"})


@dataclass(frozen=True)
class EngineSettings:
    """Engine knobs; defaults reproduce the reference."""

    max_parallelization_list_size: int = DEFAULT_MAX_PARALLELIZATION_LIST_SIZE
    fractal_cache_dir: str | os.PathLike[str] | None = None
    fail_on_empty_image_list: bool = True  # 2.17.1+; False = 2.17.0 behaviour
    # Used when a step's meta has no `parallel_tasks_per_job` (resource default);
    # it bounds concurrency and groups unit file names (`par-<batch>-...`).
    parallel_tasks_per_job: int | None = None
    # Spec weak point 7: when the successful units return nothing, the reference
    # "touches" every selected image, also those of failed units (default, for
    # fidelity); True restricts it to the inputs of successful units.
    touch_only_successful_units: bool = False


@dataclass
class WorkflowRunResult:
    """The dataset's images after the last task that could be applied."""

    images: ImageList
    recorder: Recorder
    run_ids: list[int] = field(default_factory=list)


def default_fractal_cache_dir(project_dirs: Sequence[str | os.PathLike[str]]) -> Path:
    """`<first project dir>/fractal/.fractal_cache` (2.22.12+ default); not created."""
    if not project_dirs:
        raise ValueError("A FRACTAL_CACHE_DIR default needs at least one project dir.")
    return Path(project_dirs[0]) / "fractal" / ".fractal_cache"


def user_fractal_cache_dir() -> Path:
    """Fallback FRACTAL_CACHE_DIR with no project dir: the user's XDG cache folder.

    Newer task packages read FRACTAL_CACHE_DIR and write to the home folder
    when it is missing, so the variable is always exported; this gives it the
    conventional per-user place (`$XDG_CACHE_HOME/fractal`, else
    `~/.cache/fractal`). Not created here: tasks create what they need.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "fractal"


def set_start_and_last_task_index(
    num_tasks: int,
    first_task_index: int | None = None,
    last_task_index: int | None = None,
) -> tuple[int, int]:
    """Resolve and check the inclusive task slice; InvalidTaskRange on bad input."""
    first = 0 if first_task_index is None else first_task_index
    last = num_tasks - 1 if last_task_index is None else last_task_index
    if first < 0:
        raise InvalidTaskRange(f"first_task_index={first} cannot be negative")
    if last < 0:
        raise InvalidTaskRange(f"last_task_index={last} cannot be negative")
    if last > num_tasks - 1:
        raise InvalidTaskRange(
            f"last_task_index={last} cannot be larger than "
            f"(num_tasks-1)={num_tasks - 1}"
        )
    if first > last:
        raise InvalidTaskRange(
            f"first_task_index={first} cannot be larger than last_task_index={last}"
        )
    return first, last


def _task_type(task: Any) -> str:
    value = getattr(task, "type", None)
    return str(getattr(value, "value", value))


def task_description(
    wftask: Any, task: Any, package: tuple[str | None, str | None]
) -> str:
    """`<order>-th task ('<alias>', '<name>', <pkg> <version>)` (2.19.2+)."""
    alias = getattr(wftask, "alias", None)
    alias_part = f"'{alias}', " if alias else ""
    pkg_name, version = package
    return (
        f"{getattr(wftask, 'order', None)}-th task ({alias_part}'{task.name}', "
        f"{pkg_name} {version})"
    )


def default_package_of(task: Any) -> tuple[str | None, str | None]:
    return getattr(task, "pkg_name", None), getattr(task, "version", None)


def _dump(obj: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude=exclude)
    return {}


def _task_dump(task: Any) -> dict[str, Any]:
    """The reference's `TaskDump` of a task (falls back to a plain dump)."""
    try:
        return TaskDump.model_validate(_dump(task), from_attributes=False).model_dump(
            mode="json"
        )
    except ValueError:
        return _dump(task)


def _wftask_key(wftask: Any, position: int) -> Hashable:
    wftask_id = getattr(wftask, "id", None)
    return wftask_id if wftask_id is not None else f"position-{position}"


def _as_index(images: Any) -> ImageIndex:
    """An ordered zarr_url -> image dict mapping from an ImageList or a list.

    An `ImageList` holds complete, validated images; anything else (a list of
    dicts) is validated here, which also fills the default keys.
    """
    if not isinstance(images, ImageList):
        images = ImageList(images)
    return {img["zarr_url"]: img for img in images}


def _to_image_list(index: ImageIndex) -> ImageList:
    # Images in the index were validated on the way in (dataset images) or
    # built from validated task outputs, so no second validation pass is made.
    return ImageList.trusted(index.values())


def _status_filter(
    selection: Selection,
    statuses: Mapping[str, str],
    accepted: Sequence[Any],
) -> Selection:
    """Keep images whose first-task status is accepted (order preserved)."""
    wanted = set(accepted)
    images = [
        img for img in selection.images if statuses.get(img["zarr_url"]) in wanted
    ]
    return Selection(
        images=images,
        num_available=selection.num_available,
        type_filters=selection.type_filters,
    )


def _merge(
    outcomes: Mapping[int, UnitOutcome],
    selection: Selection,
    touch_only_successful_units: bool,
) -> MergedOutput:
    ordered = [o for _, o in sorted(outcomes.items())]
    outputs = [o.task_output for o in ordered if o.task_output is not None]
    touched = selection.zarr_urls
    if touch_only_successful_units:
        ok_urls = {url for o in ordered if o.exception is None for url in o.zarr_urls}
        touched = [url for url in touched if url in ok_urls]
    return merge_task_outputs(outputs, touched)


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
) -> WorkflowRunResult:
    """Run `wf_task_list` (already sliced, in order) on `dataset`.

    `dataset` needs `zarr_dir`, `images` (ImageList or list of image dicts) and
    optionally `id`; after every task whose outputs were applied,
    `dataset.images` is replaced by the new ImageList and the recorder is told.
    Raises JobExecutionError (or a subclass) when a task fails; the images of
    earlier tasks, and of the successful units of the failing task, stay applied
    (reference rule). Errors while applying outputs leave the task's images
    unchanged (TaskOutputApplicationError).

    `package_of(task)` gives (package name, version) for log lines and
    `task_group_dump_of(task)` the history run's task-group dump; both come from
    the caller's task groups (the engine does not look them up).
    """
    # Bad filters raise pydantic's ValidationError before anything runs.
    current_type_filters = _TYPE_FILTERS.validate_python(dict(job_type_filters or {}))
    all_attribute_filters = _ATTRIBUTE_FILTERS.validate_python(
        dict(job_attribute_filters or {})
    )
    attribute_filters = dict(all_attribute_filters)
    settings = settings or EngineSettings()
    recorder = recorder if recorder is not None else InMemoryRecorder()
    log = logging.getLogger(logger_name or __name__)
    workflow_dir_local = Path(workflow_dir_local)
    if not workflow_dir_local.exists():
        log.warning(
            "Now creating %s, but it should have already happened.", workflow_dir_local
        )
        workflow_dir_local.mkdir(parents=True)
    workflow_dir_remote = Path(workflow_dir_remote or workflow_dir_local)

    zarr_dir: str = dataset.zarr_dir
    dataset_id = getattr(dataset, "id", None)
    index = _as_index(dataset.images)
    status_accepted = attribute_filters.pop(IMAGE_STATUS_KEY, None)
    first_task_statuses: dict[str, str] | None = None
    env = cache_dir_env(settings.fractal_cache_dir or user_fractal_cache_dir())
    result = WorkflowRunResult(images=_to_image_list(index), recorder=recorder)

    for position, wftask in enumerate(wf_task_list):
        task = wftask.task
        task_type = _task_type(task)
        description = task_description(wftask, task, package_of(task))
        wftask_key = _wftask_key(wftask, position)
        log.debug("SUBMIT %s", description)

        # A. image selection
        selection = select_images(
            index.values(),
            is_converter=task_type in CONVERTER_TYPES,
            current_type_filters=current_type_filters,
            task_input_types=getattr(task, "input_types", None) or {},
            wftask_type_filters=getattr(wftask, "type_filters", None) or {},
            attribute_filters=attribute_filters,
        )
        if status_accepted is not None and task_type not in CONVERTER_TYPES:
            if first_task_statuses is None:
                # Statuses come from the first task of the slice only, computed
                # once, as in the reference (a converter first: nothing matches).
                first_task_statuses = (
                    recorder.image_status(dataset_id, wftask_key, list(index))
                    if position == 0
                    else {}
                )
            selection = _status_filter(selection, first_task_statuses, status_accepted)

        # B. history run
        run_id = recorder.run_started(
            dataset_id=dataset_id,
            workflowtask_id=wftask_key,
            job_id=job_id,
            task_id=getattr(task, "id", None),
            workflowtask_dump={
                **_dump(wftask, exclude={"task"}),
                "task": _task_dump(task),
            },
            task_group_dump=task_group_dump_of(task) if task_group_dump_of else {},
            num_available_images=selection.num_available,
        )
        result.run_ids.append(run_id)
        recorder.executor_error_log(job_id=job_id, text=None)

        if (
            settings.fail_on_empty_image_list
            and task_type not in CONVERTER_TYPES
            and not selection.images
        ):
            message = (
                f"Cannot run task '{task.name}' for an empty image list "
                f"(obtained after applying type_filters={selection.type_filters} "
                f"and attribute_filters={all_attribute_filters})."
            )
            log.info(message)
            recorder.run_ended(run_id, HistoryStatus.FAILED)
            raise EmptyImageListError(message)

        # C. dispatch
        ctx = TaskContext(
            wftask=wftask,
            task=task,
            task_type=task_type,
            zarr_dir=zarr_dir,
            root_dir_local=workflow_dir_local,
            root_dir_remote=workflow_dir_remote,
            executor=executor,
            recorder=recorder,
            run_id=run_id,
            dataset_id=dataset_id,
            workflowtask_key=wftask_key,
            env=env,
            max_parallelization_list_size=settings.max_parallelization_list_size,
            default_parallel_tasks_per_job=settings.parallel_tasks_per_job,
        )
        try:
            run_task = DISPATCH.get(task_type)
            if run_task is None:
                raise ValueError(f"Unexpected error: Invalid task.type={task_type!r}.")
            outcomes, num_tasks = run_task(ctx, selection.images)
        except Exception as exc:
            log.warning("Task '%s' could not run: %s", task.name, exc)
            recorder.run_units_failed(run_id)
            outcomes, num_tasks = {0: UnitOutcome(exception=exc)}, 0

        # D. merge and apply (atomic: `index` changes only on success)
        try:
            merged = _merge(outcomes, selection, settings.touch_only_successful_units)
            merged.check_zarr_urls_are_unique()
            applied = apply_task_output(
                index,
                merged,
                zarr_dir=zarr_dir,
                output_types=getattr(task, "output_types", None) or {},
            )
        except Exception as exc:
            log.error(
                "Unexpected error in post-task-execution block. Original error: %s", exc
            )
            recorder.run_units_failed(run_id)
            recorder.run_ended(run_id, HistoryStatus.FAILED)
            log.warning("END    %s - ERROR.", description)
            raise
        index = applied.images
        current_type_filters.update(getattr(task, "output_types", None) or {})

        # E. persist
        result.images = _to_image_list(index)
        dataset.images = result.images
        recorder.images_written(dataset_id=dataset_id, images=list(index.values()))
        if merged.image_list_removals:
            recorder.image_cache_remove(
                dataset_id=dataset_id,
                workflowtask_id=wftask_key,
                zarr_urls=merged.image_list_removals,
            )
        recorder.executor_error_log(
            job_id=job_id, text=getattr(executor, "executor_error_log", None)
        )
        recorder.accounting(
            job_id=job_id, num_tasks=num_tasks, num_new_images=applied.num_new_images
        )
        first_exception = next(
            (
                o.exception
                for _, o in sorted(outcomes.items())
                if o.exception is not None
            ),
            None,
        )
        if first_exception is not None:
            recorder.run_ended(run_id, HistoryStatus.FAILED)
            log.warning("END    %s - ERROR.", description)
            raise JobExecutionError(
                info=f"An error occurred.\nOriginal error:\n{first_exception}"
            ) from first_exception
        recorder.run_ended(run_id, HistoryStatus.DONE)
        log.debug("END    %s", description)
    return result
