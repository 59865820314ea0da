"""Running one workflow task: build its units, submit them, judge the results.

One function per task shape (non-parallel, parallel, compound). Each writes the
argument files, records history units, submits the units to the executor as a
`UnitBatch` (built on access), turns every `UnitResult` into an outcome
(validated output or exception) as it arrives, closes the units' history
status and returns `(TaskOutcomes, num_tasks)`.
"""

from __future__ import annotations

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
from .units import TaskOutcomes
from .units import TaskUnits
from .units import UnitOutcome
from .units import write_args_files

logger = logging.getLogger(__name__)

# How long an interrupted wait gives the cancelled units' processes to end.
CANCEL_WAIT_S = 15.0
# History units are created this many at a time (bounded transient memory).
CREATE_CHUNK = 10_000


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


def _images_of_none(index: int) -> int:
    return 0


def _unit_index(result: UnitResult, seen: bytearray) -> int | None:
    """The index of the unit a result is for; None (logged) for a result of no
    unit of this batch, or a second result for one (an executor's bug)."""
    uid = result.unit_id
    numeric = isinstance(uid, str) and uid.isascii() and uid.isdigit()
    index = int(uid) if numeric else -1
    if not 0 <= index < len(seen) or seen[index]:
        logger.warning(
            "Ignoring a result for unit %r: %s", uid,
            "a second result" if 0 <= index < len(seen) else "no such unit",
        )  # fmt: skip
        return None
    return index


def _run_units(
    ctx: TaskContext,
    *,
    command: str | None,
    list_args: Iterable[dict[str, Any]],
    list_files: Sequence[TaskFiles],
    which: str,
    on_result: Callable[[int, UnitResult], None],
    images_of: Callable[[int], int] = _images_of_none,
) -> None:
    """Write argument files, submit every unit in one batch, hand on each result.

    Units are built by the executor when it needs them (`TaskUnits`) and each
    result goes to `on_result(unit index, result)` as it arrives, so nothing
    per unit is held here. `images_of(i)` is unit `i`'s number of images for
    the progress counters. Raises `JobCancelledError` when the job was
    cancelled meanwhile; any other interruption (Ctrl-C) cancels the batch and
    waits briefly for its processes.
    """
    if command is None:
        raise ValueError(
            f"Task '{ctx.task.name}' of type '{ctx.task_type}' has no command_{which}."
        )
    control = ctx.control
    if control is not None:
        control.check()
    write_args_files(list_args, list_files)
    units = TaskUnits(command, list_files, _resources(ctx, which), dict(ctx.env))
    if control is not None:
        control.units_submitted(
            ctx.workflowtask_key,
            num_units=len(units),
            num_images=sum(map(images_of, range(len(units)))),
        )
    handle = ctx.executor.submit(units)
    if control is not None:
        control.watch(handle)
    seen = bytearray(len(units))
    try:
        for result in handle.as_completed():
            index = _unit_index(result, seen)
            if index is None:
                continue
            if control is not None:
                control.unit_finished(
                    ctx.workflowtask_key, ok=result.ok, num_images=images_of(index)
                )
            seen[index] = 1
            on_result(index, result)
    except BaseException:
        # Interrupted while waiting (e.g. KeyboardInterrupt): stop the units and
        # give their processes a moment to go before the job records its end.
        handle.cancel()
        handle.wait(timeout=CANCEL_WAIT_S)
        raise
    finally:
        if control is not None:
            control.unwatch(handle)
    if control is not None:
        control.check()
    missing = seen.find(0)
    if missing >= 0:
        raise UnreachableBranchError(
            f"UnreachableBranchError: unit {missing} has no result."
        )


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


def _warned_positions(files: Sequence[TaskFiles]) -> list[int]:
    """Positions of the units whose log mentions a warning."""
    return [i for i, f in enumerate(files) if log_has_warnings(f.log_file_local)]


def _finish_units(
    ctx: TaskContext,
    unit_ids: Sequence[int],
    ok: Callable[[int], bool],
    warned: Iterable[int],
) -> None:
    """Close each unit as done/failed with its warning flag (two batched calls).

    `ok(i)` and `warned` (positions) refer to `unit_ids[i]`; units not warned
    keep their recorded `has_warnings=False`.
    """
    flags = {unit_ids[i]: True for i in warned}
    done: list[int] = []
    failed: list[int] = []
    for i, uid in enumerate(unit_ids):
        (done if ok(i) else failed).append(uid)
    if done:
        ctx.recorder.units_finished(done, HistoryStatus.DONE, flags)
    if failed:
        ctx.recorder.units_finished(failed, HistoryStatus.FAILED, flags)


def _create_units(
    ctx: TaskContext,
    files: Sequence[TaskFiles],
    urls_of: Callable[[int], Sequence[str]],
) -> list[int]:
    """History units of a step, made in chunks (bounded memory for 100,000 units)."""
    ids: list[int] = []
    for start in range(0, len(files), CREATE_CHUNK):
        stop = min(len(files), start + CREATE_CHUNK)
        ids.extend(
            ctx.recorder.units_created(
                ctx.run_id,
                [
                    NewUnit(
                        logfile=str(files[i].log_file_local), zarr_urls=list(urls_of(i))
                    )
                    for i in range(start, stop)
                ],
            )
        )
    return ids


def _cache(ctx: TaskContext, latest_unit: Mapping[str, int]) -> None:
    if latest_unit:
        ctx.recorder.image_cache_set(
            dataset_id=ctx.dataset_id,
            workflowtask_id=ctx.workflowtask_key,
            latest_unit=latest_unit,
        )


def _one(index: int) -> int:
    return 1


@dataclass
class _ParallelStep:
    """Judges each unit of a parallel step as its result arrives."""

    ctx: TaskContext
    files: Sequence[TaskFiles]
    urls_of: Callable[[int], Sequence[str]]
    outcomes: TaskOutcomes
    warned: list[int] = field(default_factory=list)

    def on_result(self, index: int, result: UnitResult) -> None:
        files = self.files[index]
        if log_has_warnings(files.log_file_local):
            self.warned.append(index)
        urls = list(self.urls_of(index))
        self.outcomes.add(index, _task_outcome(self.ctx, result, files, urls))

    def run(self, list_args: Iterable[dict[str, Any]]) -> None:
        _run_units(
            self.ctx,
            command=self.ctx.task.command_parallel,
            list_args=list_args,
            list_files=self.files,
            which="parallel",
            on_result=self.on_result,
            images_of=_one,
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
    unit_urls = zarr_urls or []
    (unit_id,) = _create_units(ctx, [files], lambda _index: unit_urls)
    _cache(ctx, dict.fromkeys(unit_urls, unit_id))
    return _SingleUnit(unit_urls, args, files, unit_id)


def _run_single_unit(
    ctx: TaskContext, unit: _SingleUnit, *, count_images: bool = True
) -> UnitResult:
    """Submit the one unit with the task's non-parallel command; wait for it.

    `count_images=False` (a compound task's init unit) keeps its images out of
    the progress counters, which count them once, on the compute units.
    """
    got: list[UnitResult] = []
    num_images = len(unit.zarr_urls) if count_images else 0
    _run_units(
        ctx,
        command=ctx.task.command_non_parallel,
        list_args=[unit.args],
        list_files=[unit.files],
        which="non_parallel",
        on_result=lambda _index, result: got.append(result),
        images_of=lambda _index: num_images,
    )
    return got[0]


def run_non_parallel(
    ctx: TaskContext, zarr_urls: Sequence[str]
) -> tuple[TaskOutcomes, int]:
    """non_parallel and converter_non_parallel: one unit on all images."""
    unit = _new_single_unit(
        ctx, zarr_urls, is_converter=ctx.task_type == "converter_non_parallel"
    )
    result = _run_single_unit(ctx, unit)
    outcome = _task_outcome(ctx, result, unit.files, unit.zarr_urls)
    ok = outcome.exception is None
    _finish_units(
        ctx, [unit.unit_id], lambda _index: ok, _warned_positions([unit.files])
    )
    return TaskOutcomes.single(outcome), 1


def run_parallel(
    ctx: TaskContext, zarr_urls: Sequence[str]
) -> tuple[TaskOutcomes, int]:
    """parallel: one unit per image; nothing at all for zero images."""
    if not zarr_urls:
        return TaskOutcomes(0), 0
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

    def urls_of(index: int) -> tuple[str]:
        return (zarr_urls[index],)

    unit_ids = _create_units(ctx, list_files, urls_of)
    _cache(ctx, dict(zip(zarr_urls, unit_ids, strict=True)))
    step = _ParallelStep(
        ctx, list_files, urls_of, TaskOutcomes(len(zarr_urls), urls_of)
    )
    step.run(list_args)
    _finish_units(ctx, unit_ids, step.outcomes.ok, step.warned)
    return step.outcomes, len(zarr_urls)


def _run_init(ctx: TaskContext, init: _SingleUnit) -> list[InitArgsModel]:
    """Run a compound task's init unit; its de-duplicated parallelization list."""
    init_result = _run_single_unit(ctx, init, count_images=False)
    if not init_result.ok:
        raise _exception_of(ctx, init_result)
    init_output = validate_init_task_output(
        init_result.output if init_result.output is not None else {},
        init.files.metadiff_file_local,
    )
    items: list[InitArgsModel] = deduplicate_list(init_output.parallelization_list)
    _check_size(len(items), ctx.max_parallelization_list_size)
    return items


def run_compound(
    ctx: TaskContext, zarr_urls: Sequence[str]
) -> tuple[TaskOutcomes, int]:
    """compound and converter_compound: init unit, then one unit per list item."""
    init = _new_single_unit(
        ctx, zarr_urls, is_converter=ctx.task_type == "converter_compound"
    )
    try:
        items = _run_init(ctx, init)
    except Exception as exc:
        # The reference leaves the init unit `submitted` on some of these paths;
        # every unit here ends `done` or `failed`.
        _finish_units(ctx, [init.unit_id], _never, _warned_positions([init.files]))
        if isinstance(exc, TaskExecutionError | TaskOutputValidationError):
            return TaskOutcomes.single(UnitOutcome(exception=exc)), 1
        raise
    if not items:
        _finish_units(ctx, [init.unit_id], _always, _warned_positions([init.files]))
        outcome = UnitOutcome(task_output=MergedOutput(), zarr_urls=init.zarr_urls)
        return TaskOutcomes.single(outcome), 1

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

    def urls_of(index: int) -> tuple[str]:
        return (items[index].zarr_url,)

    unit_ids = _create_units(ctx, list_files, urls_of)
    step = _ParallelStep(ctx, list_files, urls_of, TaskOutcomes(len(items), urls_of))
    all_ids = [init.unit_id, *unit_ids]
    try:
        step.run(list_args)
    except Exception:
        warned = _warned_positions([init.files, *list_files])
        _finish_units(ctx, all_ids, _never, warned)
        raise
    # All-or-nothing status for init and compute units, as in the reference.
    warned = _warned_positions([init.files]) + [1 + i for i in step.warned]
    all_ok = step.outcomes.all_ok
    _finish_units(ctx, all_ids, lambda _index: all_ok, warned)
    return step.outcomes, 1 + len(items)


def _never(index: int) -> bool:
    return False


def _always(index: int) -> bool:
    return True


DISPATCH: dict[
    str,
    Callable[[TaskContext, Sequence[str]], tuple[TaskOutcomes, int]],
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
