"""Running one workflow task: build its units, submit them, judge the results.

One function per task shape (non-parallel, parallel, compound). Each writes the
argument files, records history units, submits to the executor, turns every
`UnitResult` into an outcome (validated output or exception), closes the units'
history status and returns `(outcomes by position, num_tasks)`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from ..domain.history import log_has_warnings
from ..executors.base import Executor
from ..executors.base import ResourceRequest
from ..executors.base import UnitResult
from ..executors.base import WorkUnit
from .arguments import compute_unit_args
from .arguments import non_parallel_args
from .arguments import parallel_unit_args
from .control import JobControl
from .errors import TaskExecutionError
from .errors import TaskOutputValidationError
from .errors import TooManyParallelizationItems
from .errors import UnreachableBranchError
from .fast_output import parse_task_output
from .outputs import InitArgsModel
from .outputs import MergedOutput
from .outputs import deduplicate_list
from .outputs import validate_init_task_output
from .recorder import HistoryStatus
from .recorder import NewUnit
from .recorder import Recorder
from .task_files import TaskFiles
from .task_files import multisubmit_task_files

logger = logging.getLogger(__name__)

# How long an interrupted wait gives the cancelled units' processes to end.
CANCEL_WAIT_S = 15.0


@dataclass
class UnitOutcome:
    """What one unit produced: a validated output, or the exception that failed it."""

    task_output: MergedOutput | None = None
    exception: BaseException | None = None
    invalid_output: bool = False
    zarr_urls: list[str] = field(default_factory=list)  # the unit's input images


@dataclass
class TaskContext:
    """Everything a dispatch function needs about the task being run."""

    wftask: Any
    task: Any
    task_type: str
    zarr_dir: str
    root_dir_local: Path
    root_dir_remote: Path
    executor: Executor
    recorder: Recorder
    run_id: int
    dataset_id: Hashable
    workflowtask_key: Hashable
    env: Mapping[str, str] = field(default_factory=dict)
    max_parallelization_list_size: int = 20_000
    default_parallel_tasks_per_job: int | None = None
    default_unit_timeout_s: float | None = None
    pause_gc: bool = False
    control: JobControl | None = None

    @property
    def base_files(self) -> TaskFiles:
        return TaskFiles(
            root_dir_local=self.root_dir_local,
            root_dir_remote=self.root_dir_remote,
            task_name=self.task.name,
            task_order=getattr(self.wftask, "order", None),
        )

    def meta(self, which: str) -> dict[str, Any]:
        return dict(getattr(self.wftask, f"meta_{which}", None) or {})

    def batch_size(self, which: str) -> int | None:
        """`parallel_tasks_per_job` from the step's meta, else the default."""
        value = self.meta(which).get("parallel_tasks_per_job")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return self.default_parallel_tasks_per_job

    def user_args(self, which: str) -> dict[str, Any] | None:
        return getattr(self.wftask, f"args_{which}", None)


def _check_size(n: int, limit: int) -> None:
    if n > limit:
        raise TooManyParallelizationItems(
            f"Too many parallelization items.\n   {n}\n"
            f"   MAX_PARALLELIZATION_LIST_SIZE={limit}\n"
        )


def _resources(ctx: TaskContext, which: str) -> ResourceRequest:
    """The typed resource request of the step's units (meta kept raw too)."""
    return ResourceRequest.from_meta(
        ctx.meta(which),
        parallel_tasks_per_job=ctx.batch_size(which),
        default_time_limit_s=ctx.default_unit_timeout_s,
    )


def _write_units(
    ctx: TaskContext,
    command: str,
    list_args: Iterable[dict[str, Any]],
    list_files: Sequence[TaskFiles],
    which: str,
) -> list[WorkUnit]:
    """Write every unit's argument file; return the units to submit.

    `list_args` may be a generator: each unit's arguments are built, written
    and dropped in turn, never all held at once.
    """
    subfolder = list_files[0].wftask_subfolder_local
    fresh = not subfolder.exists()
    subfolder.mkdir(parents=True, exist_ok=True)
    resources = _resources(ctx, which)
    env = dict(ctx.env)
    units = []
    for ind, (args, files) in enumerate(zip(list_args, list_files, strict=True)):
        args_file, output_file = files.args_file_local, files.metadiff_file_local
        with open(args_file, "w") as f:
            f.write(json.dumps(args))  # the C encoder (json.dump is pure Python)
        if not fresh:
            # A stale output from an earlier run in the same folder must not
            # be mistaken for this run's output.
            output_file.unlink(missing_ok=True)
        units.append(
            WorkUnit(
                id=str(ind),
                command=command,
                args_file=args_file,
                output_file=output_file,
                log_file=files.log_file_local,
                args_file_remote=files.args_file_remote.as_posix(),
                output_file_remote=files.metadiff_file_remote.as_posix(),
                log_file_remote=files.log_file_remote.as_posix(),
                resources=resources,
                env=env,
            )
        )
    return units


def _collect(
    ctx: TaskContext, handle: Any, images_per_unit: Mapping[str, int]
) -> dict[str, UnitResult]:
    """Wait for every result, counting each finished unit in the job's progress."""
    control = ctx.control
    if control is not None:
        for result in handle.as_completed():
            control.unit_finished(
                ctx.workflowtask_key,
                ok=result.ok,
                num_images=images_per_unit.get(result.unit_id, 0),
            )
    results: dict[str, UnitResult] = handle.results()
    return results


def _run_units(
    ctx: TaskContext,
    *,
    command: str | None,
    list_args: Iterable[dict[str, Any]],
    list_files: Sequence[TaskFiles],
    which: str,
    zarr_urls: Sequence[Sequence[str]] | None = None,
) -> list[UnitResult]:
    """Write argument files, submit every unit in one batch, wait, return results.

    Raises `JobCancelledError` when the job was cancelled meanwhile; any other
    interruption (Ctrl-C) cancels the batch and waits briefly for its processes.
    """
    if command is None:
        raise ValueError(
            f"Task '{ctx.task.name}' of type '{ctx.task_type}' has no command_{which}."
        )
    if ctx.control is not None:
        ctx.control.check()
    units = _write_units(ctx, command, list_args, list_files, which)
    images_per_unit = {
        unit.id: len(urls) for unit, urls in zip(units, zarr_urls or [], strict=False)
    }
    if ctx.control is not None:
        ctx.control.units_submitted(
            ctx.workflowtask_key,
            num_units=len(units),
            num_images=sum(images_per_unit.values()),
        )
    handle = ctx.executor.submit(units)
    if ctx.control is not None:
        ctx.control.watch(handle)
    try:
        results = _collect(ctx, handle, images_per_unit)
    except BaseException:
        # Interrupted while waiting (e.g. KeyboardInterrupt): stop the units and
        # give their processes a moment to go before the job records its end.
        handle.cancel()
        handle.wait(timeout=CANCEL_WAIT_S)
        raise
    finally:
        if ctx.control is not None:
            ctx.control.unwatch(handle)
    if ctx.control is not None:
        ctx.control.check()
    ordered = []
    for unit in units:
        result = results.get(unit.id)
        if result is None:
            raise UnreachableBranchError(
                f"UnreachableBranchError: unit {unit.id} has no result."
            )
        ordered.append(result)
    return ordered


def _exception_of(ctx: TaskContext, result: UnitResult) -> TaskExecutionError:
    message = result.failure.message if result.failure else "Unknown failure."
    return TaskExecutionError(
        message,
        workflow_task_id=getattr(ctx.wftask, "id", None),
        workflow_task_order=getattr(ctx.wftask, "order", None),
        task_name=ctx.task.name,
    )


def _task_outcome(
    ctx: TaskContext, result: UnitResult, files: TaskFiles, zarr_urls: list[str]
) -> UnitOutcome:
    if not result.ok:
        return UnitOutcome(exception=_exception_of(ctx, result), zarr_urls=zarr_urls)
    if result.output is None:
        return UnitOutcome(task_output=MergedOutput(), zarr_urls=zarr_urls)
    try:
        output = parse_task_output(
            result.output, files.metadiff_file_local, pause_gc=ctx.pause_gc
        )
    except TaskOutputValidationError as exc:
        return UnitOutcome(exception=exc, invalid_output=True, zarr_urls=zarr_urls)
    return UnitOutcome(task_output=output, zarr_urls=zarr_urls)


def _finish_units(
    ctx: TaskContext,
    unit_ids: Sequence[int],
    files: Sequence[TaskFiles],
    ok: Sequence[bool],
) -> None:
    """Close each unit as done/failed with its warning flag (two batched calls)."""
    warnings = {
        uid: log_has_warnings(f.log_file_local)
        for uid, f in zip(unit_ids, files, strict=True)
    }
    done = [uid for uid, good in zip(unit_ids, ok, strict=True) if good]
    failed = [uid for uid, good in zip(unit_ids, ok, strict=True) if not good]
    if done:
        ctx.recorder.units_finished(done, HistoryStatus.DONE, warnings)
    if failed:
        ctx.recorder.units_finished(failed, HistoryStatus.FAILED, warnings)


def _create_units(
    ctx: TaskContext, files: Sequence[TaskFiles], zarr_urls: Sequence[list[str]]
) -> list[int]:
    return ctx.recorder.units_created(
        ctx.run_id,
        [
            NewUnit(logfile=str(f.log_file_local), zarr_urls=urls)
            for f, urls in zip(files, zarr_urls, strict=True)
        ],
    )


def _cache(ctx: TaskContext, latest_unit: Mapping[str, int]) -> None:
    if latest_unit:
        ctx.recorder.image_cache_set(
            dataset_id=ctx.dataset_id,
            workflowtask_id=ctx.workflowtask_key,
            latest_unit=latest_unit,
        )


@dataclass
class _SingleUnit:
    """The unit of a non-parallel task, or the init unit of a compound task."""

    zarr_urls: list[str]  # its input images (none for converters)
    args: dict[str, Any]
    files: TaskFiles
    unit_id: int


def _new_single_unit(
    ctx: TaskContext, urls: Sequence[str], *, is_converter: bool
) -> _SingleUnit:
    """Arguments, files and history unit (with image cache) of the one unit."""
    zarr_urls = None if is_converter else list(urls)
    args = non_parallel_args(
        zarr_dir=ctx.zarr_dir,
        user_args=ctx.user_args("non_parallel"),
        zarr_urls=zarr_urls,
    )
    files = ctx.base_files
    (unit_id,) = _create_units(ctx, [files], [zarr_urls or []])
    _cache(ctx, dict.fromkeys(zarr_urls or [], unit_id))
    return _SingleUnit(zarr_urls or [], args, files, unit_id)


def _run_single_unit(
    ctx: TaskContext, unit: _SingleUnit, *, count_images: bool = True
) -> UnitResult:
    """Submit the one unit with the task's non-parallel command; wait for it.

    `count_images=False` (a compound task's init unit) keeps its images out of
    the progress counters, which count them once, on the compute units.
    """
    (result,) = _run_units(
        ctx,
        command=ctx.task.command_non_parallel,
        list_args=[unit.args],
        list_files=[unit.files],
        which="non_parallel",
        zarr_urls=[unit.zarr_urls if count_images else []],
    )
    return result


def run_non_parallel(
    ctx: TaskContext, zarr_urls: Sequence[str]
) -> tuple[dict[int, UnitOutcome], int]:
    """non_parallel and converter_non_parallel: one unit on all images."""
    unit = _new_single_unit(
        ctx, zarr_urls, is_converter=ctx.task_type == "converter_non_parallel"
    )
    result = _run_single_unit(ctx, unit)
    outcome = _task_outcome(ctx, result, unit.files, unit.zarr_urls)
    _finish_units(ctx, [unit.unit_id], [unit.files], [outcome.exception is None])
    return {0: outcome}, 1


def run_parallel(
    ctx: TaskContext, zarr_urls: Sequence[str]
) -> tuple[dict[int, UnitOutcome], int]:
    """parallel: one unit per image; nothing at all for zero images."""
    if not zarr_urls:
        return {}, 0
    _check_size(len(zarr_urls), ctx.max_parallelization_list_size)
    user_args = ctx.user_args("parallel")
    list_args = (
        parallel_unit_args(zarr_url=url, user_args=user_args) for url in zarr_urls
    )
    list_files = multisubmit_task_files(
        ctx.base_files,
        tot_tasks=len(zarr_urls),
        batch_size=ctx.batch_size("parallel"),
    )
    unit_ids = _create_units(ctx, list_files, [[url] for url in zarr_urls])
    _cache(ctx, dict(zip(zarr_urls, unit_ids, strict=True)))
    results = _run_units(
        ctx,
        command=ctx.task.command_parallel,
        list_args=list_args,
        list_files=list_files,
        which="parallel",
        zarr_urls=[[url] for url in zarr_urls],
    )
    outcomes = {
        ind: _task_outcome(ctx, result, files, [url])
        for ind, (result, files, url) in enumerate(
            zip(results, list_files, zarr_urls, strict=True)
        )
    }
    _finish_units(
        ctx, unit_ids, list_files, [o.exception is None for o in outcomes.values()]
    )
    return outcomes, len(zarr_urls)


def run_compound(
    ctx: TaskContext, zarr_urls: Sequence[str]
) -> tuple[dict[int, UnitOutcome], int]:
    """compound and converter_compound: init unit, then one unit per list item."""
    init = _new_single_unit(
        ctx, zarr_urls, is_converter=ctx.task_type == "converter_compound"
    )
    init_files, init_id = init.files, init.unit_id
    try:
        init_result = _run_single_unit(ctx, init, count_images=False)
        if not init_result.ok:
            raise _exception_of(ctx, init_result)
        init_output = validate_init_task_output(
            init_result.output if init_result.output is not None else {},
            init_files.metadiff_file_local,
        )
        items: list[InitArgsModel] = deduplicate_list(init_output.parallelization_list)
        _check_size(len(items), ctx.max_parallelization_list_size)
    except Exception as exc:
        # The reference leaves the init unit `submitted` on some of these paths;
        # every unit here ends `done` or `failed`.
        _finish_units(ctx, [init_id], [init_files], [False])
        if isinstance(exc, TaskExecutionError | TaskOutputValidationError):
            return {0: UnitOutcome(exception=exc)}, 1
        raise
    if not items:
        _finish_units(ctx, [init_id], [init_files], [True])
        return {0: UnitOutcome(task_output=MergedOutput(), zarr_urls=init.zarr_urls)}, 1

    user_args = ctx.user_args("parallel")
    list_args = (
        compute_unit_args(
            zarr_url=item.zarr_url, init_args=item.init_args, user_args=user_args
        )
        for item in items
    )
    list_files = multisubmit_task_files(
        ctx.base_files,
        tot_tasks=len(items),
        batch_size=ctx.batch_size("parallel"),
    )
    unit_ids = _create_units(ctx, list_files, [[item.zarr_url] for item in items])
    try:
        results = _run_units(
            ctx,
            command=ctx.task.command_parallel,
            list_args=list_args,
            list_files=list_files,
            which="parallel",
            zarr_urls=[[item.zarr_url] for item in items],
        )
    except Exception:
        _finish_units(
            ctx,
            [init_id, *unit_ids],
            [init_files, *list_files],
            [False] * (1 + len(unit_ids)),
        )
        raise
    outcomes = {
        ind: _task_outcome(ctx, result, files, [item.zarr_url])
        for ind, (result, files, item) in enumerate(
            zip(results, list_files, items, strict=True)
        )
    }
    all_ok = all(o.exception is None for o in outcomes.values())
    # All-or-nothing status for init and compute units, as in the reference.
    _finish_units(
        ctx,
        [init_id, *unit_ids],
        [init_files, *list_files],
        [all_ok] * (1 + len(unit_ids)),
    )
    return outcomes, 1 + len(items)


DISPATCH: dict[
    str,
    Callable[[TaskContext, Sequence[str]], tuple[dict[int, UnitOutcome], int]],
] = {
    "non_parallel": run_non_parallel,
    "converter_non_parallel": run_non_parallel,
    "parallel": run_parallel,
    "compound": run_compound,
    "converter_compound": run_compound,
}


def cache_dir_env(cache_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """The environment given to every task process (FRACTAL_CACHE_DIR, 2.22.12+)."""
    return {} if cache_dir is None else {"FRACTAL_CACHE_DIR": os.fspath(cache_dir)}
