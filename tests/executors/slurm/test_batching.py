"""Batching: the reference's heuristics, the unit plan and the per-job resources."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.executors.slurm import SlurmConfig
from fractal_core.executors.slurm import SlurmConfigError
from fractal_core.executors.slurm import SlurmHeuristicsError
from fractal_core.executors.slurm import heuristics
from fractal_core.executors.slurm import job_resources
from fractal_core.executors.slurm import plan_batches

LIMIT_KEYS = (
    "cpus_per_task",
    "mem_per_task",
    "target_cpus_per_job",
    "max_cpus_per_job",
    "target_mem_per_job",
    "max_mem_per_job",
    "target_num_jobs",
    "max_num_jobs",
)

# (tot_tasks, cpus, mem, target cpus, max cpus, target mem, max mem, target jobs,
#  max jobs) -> (tasks_per_job, parallel_tasks_per_job), values obtained by running
# fractal-server 2.17.0's `_batching.heuristics` on each row. The first four rows
# are the reference's own cases (spec executors.md §5, `test_heuristics_many_tasks`).
REFERENCE_GRID = [
    ((1, 1, 100, 1, 1, 200, 500, 2, 4), (1, 1)),
    ((4, 1, 100, 1, 1, 200, 500, 2, 4), (1, 1)),
    ((10, 1, 100, 1, 1, 200, 500, 2, 4), (3, 1)),
    ((10000, 1, 100, 1, 1, 100, 100, 10, 1), (10000, 1)),
    ((5, 1, 1000, 8, 16, 4000, 64000, 100, 200), (4, 4)),
    ((100, 1, 1000, 8, 16, 4000, 64000, 10, 20), (16, 16)),
    ((100, 2, 1000, 8, 16, 4000, 64000, 2, 5), (20, 8)),
    ((0, 1, 100, 1, 1, 200, 500, 2, 4), (1, 1)),
    ((7, 3, 700, 4, 10, 1000, 3000, 1, 3), (3, 3)),
    ((50, 1, 1, 64, 128, 64, 128, 1, 1), (64, 64)),
    ((33, 4, 4000, 16, 32, 16000, 64000, 2, 3), (11, 8)),
]


def _kwargs(row: tuple[int, ...]) -> dict[str, int]:
    return {"tot_tasks": row[0], **dict(zip(LIMIT_KEYS, row[1:], strict=True))}


@pytest.mark.parametrize(("row", "expected"), REFERENCE_GRID)
def test_equal_to_the_reference_grid(
    row: tuple[int, ...], expected: tuple[int, int]
) -> None:
    assert heuristics(**_kwargs(row)) == expected


def test_reference_many_tasks() -> None:
    """Mirrors the reference's `test_slurm_batching.py::test_heuristics_many_tasks`."""
    assert heuristics(
        tot_tasks=10000,
        cpus_per_task=1,
        mem_per_task=100,
        target_cpus_per_job=1,
        max_cpus_per_job=1,
        target_mem_per_job=100,
        max_mem_per_job=100,
        max_num_jobs=1,
        target_num_jobs=10,
    ) == (10000, 1)


BRANCH1 = dict(
    tot_tasks=10,
    cpus_per_task=1,
    mem_per_task=100,
    target_cpus_per_job=2,
    max_cpus_per_job=4,
    target_mem_per_job=200,
    max_mem_per_job=400,
    target_num_jobs=2,
    max_num_jobs=4,
)


def test_branch1_user_pair_is_validated() -> None:
    """Values from the reference on the same inputs: (5, 2) kept, (3, 3) kept with
    warnings only, (5, 8) clamped to (5, 5) then refused on CPUs."""
    assert heuristics(**BRANCH1, tasks_per_job=5, parallel_tasks_per_job=2) == (5, 2)
    assert heuristics(**BRANCH1, tasks_per_job=3, parallel_tasks_per_job=3) == (3, 3)
    with pytest.raises(
        SlurmHeuristicsError, match="cpus_per_job=5.*max_cpus_per_job=4"
    ):
        heuristics(**BRANCH1, tasks_per_job=5, parallel_tasks_per_job=8)
    with pytest.raises(SlurmHeuristicsError, match="num_jobs=10.*max_num_jobs=4"):
        heuristics(**BRANCH1, tasks_per_job=1, parallel_tasks_per_job=1)
    with pytest.raises(SlurmHeuristicsError, match="mem_per_job=600"):
        heuristics(
            **{**BRANCH1, "mem_per_task": 150},
            tasks_per_job=4,
            parallel_tasks_per_job=4,
        )


@pytest.mark.parametrize(("tasks", "parallel"), [(5, None), (None, 2), (0, 2), (5, 0)])
def test_branch1_needs_both_or_neither(tasks: int | None, parallel: int | None) -> None:
    with pytest.raises(SlurmHeuristicsError, match="both set or both unset"):
        heuristics(**BRANCH1, tasks_per_job=tasks, parallel_tasks_per_job=parallel)


def test_a_unit_larger_than_the_maxima_is_refused() -> None:
    with pytest.raises(SlurmHeuristicsError, match="cpus_per_task=5"):
        heuristics(**{**BRANCH1, "cpus_per_task": 5})
    with pytest.raises(SlurmHeuristicsError, match="mem_per_task=401"):
        heuristics(**{**BRANCH1, "mem_per_task": 401})


@pytest.mark.parametrize("key", ["mem_per_task", "cpus_per_task", "max_num_jobs"])
def test_zero_limits_are_refused_not_divided_by(key: str) -> None:
    with pytest.raises(SlurmHeuristicsError, match=f"{key}=0"):
        heuristics(**{**BRANCH1, key: 0})
    with pytest.raises(SlurmHeuristicsError, match="tot_tasks=-1"):
        heuristics(**{**BRANCH1, "tot_tasks": -1})


def test_a_target_above_its_maximum_counts_as_the_maximum() -> None:
    """Inputs where fractal-server 2.17.0 breaks a maximum: (2, 2) there, 2 CPUs
    with max_cpus_per_job=1; and (1, 1) there, 2 jobs with max_num_jobs=1."""
    limits = dict(
        cpus_per_task=1,
        mem_per_task=100,
        max_cpus_per_job=1,
        target_mem_per_job=200,
        max_mem_per_job=500,
        max_num_jobs=1,
    )
    assert heuristics(
        tot_tasks=2, target_cpus_per_job=2, target_num_jobs=1, **limits
    ) == (2, 1)
    assert heuristics(
        tot_tasks=2, target_cpus_per_job=1, target_num_jobs=5, **limits
    ) == (2, 1)


def test_gpu_tasks_run_one_at_a_time_without_changing_the_grouping() -> None:
    """fractal-server 2.25: with needs_gpu every branch returns parallel=1."""
    for row, (tasks, _parallel) in REFERENCE_GRID:
        assert heuristics(**_kwargs(row), needs_gpu=True) == (tasks, 1)
    assert heuristics(
        **BRANCH1, tasks_per_job=5, parallel_tasks_per_job=2, needs_gpu=True
    ) == (5, 1)
    # the user's oversized pair is still checked before being overridden
    with pytest.raises(SlurmHeuristicsError):
        heuristics(**BRANCH1, tasks_per_job=5, parallel_tasks_per_job=8, needs_gpu=True)


def _config(**values: Any) -> SlurmConfig:
    base: dict[str, Any] = dict(
        partition="main",
        cpus_per_task=1,
        mem_per_task_MB=100,
        target_cpus_per_job=1,
        max_cpus_per_job=1,
        target_mem_per_job=200,
        max_mem_per_job=500,
        target_num_jobs=2,
        max_num_jobs=4,
    )
    return SlurmConfig(**{**base, **values})


limits = st.fixed_dictionaries(
    {
        "cpus_per_task": st.integers(1, 8),
        "mem_per_task": st.integers(1, 5000),
        "target_cpus_per_job": st.integers(1, 64),
        "max_cpus_per_job": st.integers(1, 64),
        "target_mem_per_job": st.integers(1, 100_000),
        "max_mem_per_job": st.integers(1, 100_000),
        "target_num_jobs": st.integers(1, 50),
        "max_num_jobs": st.integers(1, 50),
    }
)


@given(tot=st.integers(0, 3000), lim=limits, gpu=st.booleans())
def test_heuristics_properties(tot: int, lim: dict[str, int], gpu: bool) -> None:
    """Whatever the limits, the choice respects the hard ones, or is refused."""
    try:
        tasks, parallel = heuristics(tot_tasks=tot, needs_gpu=gpu, **lim)
    except SlurmHeuristicsError:
        assert (
            lim["cpus_per_task"] > lim["max_cpus_per_job"]
            or lim["mem_per_task"] > lim["max_mem_per_job"]
        )
        return
    assert 1 <= parallel <= max(tasks, 1)
    assert parallel * lim["cpus_per_task"] <= lim["max_cpus_per_job"]
    assert parallel * lim["mem_per_task"] <= lim["max_mem_per_job"]
    assert math.ceil(tot / tasks) <= lim["max_num_jobs"]
    if gpu:
        assert parallel == 1


@given(
    tot=st.integers(0, 3000),
    tasks_per_job=st.one_of(st.none(), st.integers(1, 400)),
    lim=limits,
)
def test_plan_batches_keeps_every_unit_once_in_order(
    tot: int, tasks_per_job: int | None, lim: dict[str, int]
) -> None:
    assume(lim["cpus_per_task"] <= lim["max_cpus_per_job"])
    assume(lim["mem_per_task"] <= lim["max_mem_per_job"])
    config = _config(
        cpus_per_task=lim["cpus_per_task"],
        mem_per_task_MB=lim["mem_per_task"],
        tasks_per_job=tasks_per_job,
        **{k: v for k, v in lim.items() if k not in ("cpus_per_task", "mem_per_task")},
    )
    batches = plan_batches(tot, config)
    assert [i for batch in batches for i in batch] == list(range(tot))
    assert all(batches)
    size = tasks_per_job
    if size is None:
        size, _ = heuristics(tot_tasks=tot, **lim)
        assert len(batches) <= lim["max_num_jobs"]
    assert all(len(batch) == size for batch in batches[:-1])
    assert not batches or 1 <= len(batches[-1]) <= size


def test_plan_batches_reference_example() -> None:
    """10 units with the reference's test settings: jobs of 3, 3, 3 and 1."""
    config = _config()
    assert plan_batches(10, config) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert plan_batches(0, config) == []
    with pytest.raises(SlurmConfigError, match="tot_tasks=-3"):
        plan_batches(-3, config)


@given(
    n_units=st.integers(1, 500),
    parallel=st.integers(1, 64),
    cpus=st.integers(1, 16),
    mem=st.integers(1, 100_000),
    per_cpu=st.booleans(),
)
def test_job_resources_totals(
    n_units: int, parallel: int, cpus: int, mem: int, per_cpu: bool
) -> None:
    config = _config(
        cpus_per_task=cpus,
        mem_per_task_MB=mem,
        parallel_tasks_per_job=parallel,
        mem_option="mem-per-cpu" if per_cpu else "mem",
        gpus="a100:1",
    )
    res = job_resources(config, n_units)
    assert res.ntasks == min(n_units, parallel)
    assert res.total_cpus == res.ntasks * cpus
    assert res.gpus == "a100:1"  # per job, never multiplied
    if per_cpu:
        assert res.job_mem_value_mb == res.step_mem_value_mb
        assert res.step_mem_value_mb * cpus >= mem  # never less than asked
        assert (res.step_mem_value_mb - 1) * cpus < mem
        assert res.total_mem_mb == res.step_mem_value_mb * cpus * res.ntasks
    else:
        assert res.step_mem_value_mb == mem
        assert res.job_mem_value_mb == res.total_mem_mb == mem * res.ntasks
    assert config.parallel_tasks_per_job == parallel  # the config is not touched


def test_job_resources_override_and_errors() -> None:
    config = _config(parallel_tasks_per_job=4)
    assert job_resources(config, 3).ntasks == 3
    assert job_resources(config, 10, parallel=2).ntasks == 2
    assert job_resources(_config(), 5).ntasks == 1  # unset parallel counts as 1
    with pytest.raises(SlurmConfigError, match="n_units=0"):
        job_resources(config, 0)
    with pytest.raises(SlurmConfigError, match="parallel=0"):
        job_resources(config, 2, parallel=0)
