"""How units are packed into SLURM jobs (pure functions).

Two numbers decide it, as in fractal-server 2.17.0 (`slurm_common/_batching.py`):
`tasks_per_job`, the units of one SLURM job, and `parallel_tasks_per_job`, how
many of them run at once (the job's `--ntasks`). When a job holds more units than
slots, the others wait inside the job for a free slot (the "in-job queue").

`heuristics` chooses both numbers with the reference's four branches (validate
the user's pair; fit the *target* resources without a queue; fit the *maximum*
resources without a queue; fit the maximum resources and queue to respect
`max_num_jobs`). As in fractal-server 2.25, a task that needs a GPU runs one unit
at a time inside each job (`parallel_tasks_per_job = 1`, decided after
`tasks_per_job`, so the grouping of units into jobs does not change): steps
sharing the job's GPUs cannot usefully run together, and asking k times the
memory and CPUs for them only wastes the allocation. The GPU request itself
(`--gpus`, `--gres`) is per job and never multiplied.

`plan_batches` splits unit indices into consecutive groups of `tasks_per_job`;
`job_resources` gives one job's totals without touching the config (the
reference writes `ntasks` back into the configuration shared by all jobs of a
call).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Literal

from .memory import SlurmConfigError

if TYPE_CHECKING:
    from .config import SlurmConfig

__all__ = [
    "JobResources",
    "SlurmHeuristicsError",
    "estimate_parallel_tasks_per_job",
    "heuristics",
    "job_resources",
    "plan_batches",
]

logger = logging.getLogger(__name__)


class SlurmHeuristicsError(SlurmConfigError):
    """The batching request cannot be met within the configured limits."""


def estimate_parallel_tasks_per_job(
    *,
    cpus_per_task: int,
    mem_per_task: int,
    max_cpus_per_job: int,
    max_mem_per_job: int,
) -> int:
    """How many units fit side by side in one job with these limits (at least 1)."""
    if cpus_per_task > max_cpus_per_job or mem_per_task > max_mem_per_job:
        return 1
    return min(max_cpus_per_job // cpus_per_task, max_mem_per_job // mem_per_task)


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SlurmHeuristicsError(
                f"Invalid batching value {key}={value!r}: expected a positive int."
            )


def heuristics(
    *,
    tot_tasks: int,
    tasks_per_job: int | None = None,
    parallel_tasks_per_job: int | None = None,
    cpus_per_task: int,
    mem_per_task: int,
    target_cpus_per_job: int,
    max_cpus_per_job: int,
    target_mem_per_job: int,
    max_mem_per_job: int,
    target_num_jobs: int,
    max_num_jobs: int,
    needs_gpu: bool = False,
) -> tuple[int, int]:
    """`(tasks_per_job, parallel_tasks_per_job)` for `tot_tasks` units.

    Memory values are MB. The user's pair (both set, or neither: 0 counts as
    unset) is validated against the maxima, else chosen by the reference's
    branches 2 to 4. With `needs_gpu` the parallel count is 1 in every branch.
    A target above its maximum counts as the maximum (the reference does not
    check, and could then exceed the maximum), so the result always respects
    `max_cpus_per_job`, `max_mem_per_job` and `max_num_jobs`.
    Raises `SlurmHeuristicsError` naming the value that does not fit.
    """
    if isinstance(tot_tasks, bool) or not isinstance(tot_tasks, int) or tot_tasks < 0:
        raise SlurmHeuristicsError(
            f"Invalid batching value tot_tasks={tot_tasks!r}: expected an int >= 0."
        )
    _check_positive(
        cpus_per_task=cpus_per_task,
        mem_per_task=mem_per_task,
        target_cpus_per_job=target_cpus_per_job,
        max_cpus_per_job=max_cpus_per_job,
        target_mem_per_job=target_mem_per_job,
        max_mem_per_job=max_mem_per_job,
        target_num_jobs=target_num_jobs,
        max_num_jobs=max_num_jobs,
    )
    # The reference never checks target <= max, so its branch 2 could exceed a
    # maximum; a target above its maximum counts as the maximum here.
    targets = {
        "cpus_per_job": (target_cpus_per_job, max_cpus_per_job),
        "mem_per_job": (target_mem_per_job, max_mem_per_job),
        "num_jobs": (target_num_jobs, max_num_jobs),
    }
    for key, (target, maximum) in targets.items():
        if target > maximum:
            logger.warning(
                "target_%s=%d > max_%s=%d: using the maximum", key, target, key, maximum
            )
    tasks, parallel = _choose(
        tot_tasks=tot_tasks,
        tasks_per_job=tasks_per_job,
        parallel_tasks_per_job=parallel_tasks_per_job,
        cpus_per_task=cpus_per_task,
        mem_per_task=mem_per_task,
        target_cpus_per_job=min(target_cpus_per_job, max_cpus_per_job),
        max_cpus_per_job=max_cpus_per_job,
        target_mem_per_job=min(target_mem_per_job, max_mem_per_job),
        max_mem_per_job=max_mem_per_job,
        target_num_jobs=min(target_num_jobs, max_num_jobs),
        max_num_jobs=max_num_jobs,
    )
    if needs_gpu and parallel != 1:
        logger.debug("GPU task: parallel_tasks_per_job %d -> 1", parallel)
        parallel = 1
    return tasks, parallel


def _choose(
    *,
    tot_tasks: int,
    tasks_per_job: int | None,
    parallel_tasks_per_job: int | None,
    cpus_per_task: int,
    mem_per_task: int,
    target_cpus_per_job: int,
    max_cpus_per_job: int,
    target_mem_per_job: int,
    max_mem_per_job: int,
    target_num_jobs: int,
    max_num_jobs: int,
) -> tuple[int, int]:
    if bool(tasks_per_job) != bool(parallel_tasks_per_job):
        raise SlurmHeuristicsError(
            "tasks_per_job and parallel_tasks_per_job must be both set or both "
            f"unset (got tasks_per_job={tasks_per_job!r}, "
            f"parallel_tasks_per_job={parallel_tasks_per_job!r})."
        )
    if cpus_per_task > max_cpus_per_job:
        raise SlurmHeuristicsError(
            f"Requested cpus_per_task={cpus_per_task} but "
            f"max_cpus_per_job={max_cpus_per_job}."
        )
    if mem_per_task > max_mem_per_job:
        raise SlurmHeuristicsError(
            f"Requested mem_per_task={mem_per_task} MB but "
            f"max_mem_per_job={max_mem_per_job} MB."
        )

    # Branch 1: the user chose both numbers; check them against the limits.
    if tasks_per_job and parallel_tasks_per_job:
        _check_positive(
            tasks_per_job=tasks_per_job, parallel_tasks_per_job=parallel_tasks_per_job
        )
        if parallel_tasks_per_job > tasks_per_job:
            logger.warning(
                "parallel_tasks_per_job=%d > tasks_per_job=%d: using %d",
                parallel_tasks_per_job,
                tasks_per_job,
                tasks_per_job,
            )
            parallel_tasks_per_job = tasks_per_job
        cpus_per_job = parallel_tasks_per_job * cpus_per_task
        if cpus_per_job > target_cpus_per_job:
            logger.warning(
                "Requested cpus_per_job=%d but target_cpus_per_job=%d",
                cpus_per_job,
                target_cpus_per_job,
            )
        if cpus_per_job > max_cpus_per_job:
            raise SlurmHeuristicsError(
                f"Requested cpus_per_job={cpus_per_job} "
                f"(parallel_tasks_per_job={parallel_tasks_per_job} x "
                f"cpus_per_task={cpus_per_task}) but "
                f"max_cpus_per_job={max_cpus_per_job}."
            )
        mem_per_job = parallel_tasks_per_job * mem_per_task
        if mem_per_job > target_mem_per_job:
            logger.warning(
                "Requested mem_per_job=%d MB but target_mem_per_job=%d MB",
                mem_per_job,
                target_mem_per_job,
            )
        if mem_per_job > max_mem_per_job:
            raise SlurmHeuristicsError(
                f"Requested mem_per_job={mem_per_job} MB "
                f"(parallel_tasks_per_job={parallel_tasks_per_job} x "
                f"mem_per_task={mem_per_task} MB) but "
                f"max_mem_per_job={max_mem_per_job} MB."
            )
        num_jobs = math.ceil(tot_tasks / tasks_per_job)
        if num_jobs > target_num_jobs:
            logger.debug(
                "Requested num_jobs=%d but target_num_jobs=%d",
                num_jobs,
                target_num_jobs,
            )
        if num_jobs > max_num_jobs:
            raise SlurmHeuristicsError(
                f"Requested num_jobs={num_jobs} (tot_tasks={tot_tasks}, "
                f"tasks_per_job={tasks_per_job}) but max_num_jobs={max_num_jobs}."
            )
        return tasks_per_job, parallel_tasks_per_job

    # Branch 2: fit the target resources, no in-job queue.
    parallel = estimate_parallel_tasks_per_job(
        cpus_per_task=cpus_per_task,
        mem_per_task=mem_per_task,
        max_cpus_per_job=target_cpus_per_job,
        max_mem_per_job=target_mem_per_job,
    )
    if math.ceil(tot_tasks / parallel) <= target_num_jobs:
        return parallel, parallel

    # Branch 3: fit the maximum resources, no in-job queue.
    parallel = estimate_parallel_tasks_per_job(
        cpus_per_task=cpus_per_task,
        mem_per_task=mem_per_task,
        max_cpus_per_job=max_cpus_per_job,
        max_mem_per_job=max_mem_per_job,
    )
    if math.ceil(tot_tasks / parallel) <= max_num_jobs:
        return parallel, parallel

    # Branch 4: maximum resources, and queue inside jobs to keep max_num_jobs.
    return math.ceil(tot_tasks / max_num_jobs), parallel


def plan_batches(tot_tasks: int, config: SlurmConfig) -> list[list[int]]:
    """Unit indices `0..tot_tasks-1` per SLURM job, in order, each exactly once.

    Groups are consecutive runs of `config.tasks_per_job` indices (the last may
    be shorter). When the config has no `tasks_per_job` yet, `heuristics` chooses
    it from the config's resources and limits.
    """
    if isinstance(tot_tasks, bool) or not isinstance(tot_tasks, int) or tot_tasks < 0:
        raise SlurmHeuristicsError(
            f"Invalid batching value tot_tasks={tot_tasks!r}: expected an int >= 0."
        )
    size = config.tasks_per_job
    if size is None:
        size, _ = heuristics(
            tot_tasks=tot_tasks,
            tasks_per_job=None,
            parallel_tasks_per_job=None,
            cpus_per_task=config.cpus_per_task,
            mem_per_task=config.mem_per_task_MB,
            target_cpus_per_job=config.target_cpus_per_job,
            max_cpus_per_job=config.max_cpus_per_job,
            target_mem_per_job=config.target_mem_per_job,
            max_mem_per_job=config.max_mem_per_job,
            target_num_jobs=config.target_num_jobs,
            max_num_jobs=config.max_num_jobs,
            needs_gpu=config.needs_gpu,
        )
    return [
        list(range(start, min(start + size, tot_tasks)))
        for start in range(0, tot_tasks, size)
    ]


@dataclass(frozen=True)
class JobResources:
    """What one SLURM job asks for, and what each of its units (steps) gets.

    `ntasks` is the job's slots (`--ntasks`), `cpus_per_task` each slot's CPUs.
    Memory is MB as SLURM reads the `M` suffix (MiB, see `memory`):
    `mem_option` says which sbatch option carries it, `job_mem_value_mb` is the
    value written after it (`--mem` = the whole job, `--mem-per-cpu` = per CPU)
    and `step_mem_value_mb` the value each `srun` gets with the same option.
    `total_cpus` and `total_mem_mb` are the job's totals. `gpus` and `gres` are
    the job's GPU request, verbatim: never multiplied by the slots.
    """

    ntasks: int
    cpus_per_task: int
    mem_per_task_mb: int
    mem_option: Literal["mem", "mem-per-cpu"]
    job_mem_value_mb: int
    step_mem_value_mb: int
    total_cpus: int
    total_mem_mb: int
    gpus: str | None
    gres: str | None


def job_resources(
    config: SlurmConfig, n_units: int, *, parallel: int | None = None
) -> JobResources:
    """Totals for one job of `n_units` units: `ntasks = min(n_units, parallel)`.

    `parallel` defaults to `config.parallel_tasks_per_job` (unset counts as 1).
    With `mem-per-cpu` the per-CPU value is `ceil(mem_per_task_MB / cpus_per_task)`,
    so a unit never gets less than it asked for (fractal-server 2.18+ truncates).
    """
    if isinstance(n_units, bool) or not isinstance(n_units, int) or n_units < 1:
        raise SlurmHeuristicsError(
            f"Invalid batching value n_units={n_units!r}: expected a positive int."
        )
    if parallel is None:
        parallel = config.parallel_tasks_per_job or 1
    _check_positive(parallel=parallel)
    ntasks = min(n_units, parallel)
    cpus = config.cpus_per_task
    mem = config.mem_per_task_MB
    if config.mem_option == "mem-per-cpu":
        per_cpu = -(-mem // cpus)
        job_value = step_value = per_cpu
        total_mem = per_cpu * cpus * ntasks
    else:
        job_value = mem * ntasks
        step_value = mem
        total_mem = job_value
    return JobResources(
        ntasks=ntasks,
        cpus_per_task=cpus,
        mem_per_task_mb=mem,
        mem_option=config.mem_option,
        job_mem_value_mb=job_value,
        step_mem_value_mb=step_value,
        total_cpus=cpus * ntasks,
        total_mem_mb=total_mem,
        gpus=config.gpus,
        gres=config.gres,
    )
