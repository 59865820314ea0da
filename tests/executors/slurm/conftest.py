"""Fixtures for the SLURM executor on the real test cluster (`tests/slurm`)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors.slurm import SlurmBatchingConfig
from fractal_core.executors.slurm import SlurmExecutor
from fractal_core.executors.slurm import SlurmOptions
from fractal_core.executors.slurm import SlurmResourceConfig
from fractal_core.executors.slurm import SlurmWatcher
from fractal_core.hosts import LocalHost
from fractal_core.hosts.base import Host

POLL = 0.2  # seconds between queue polls in tests
GUARD = 120.0  # hang guard for waits on the cluster, never a speed requirement


def small_resource(
    *, cpus: int = 1, mem: int | str = 200, target_cpus: int = 2, **options: Any
) -> SlurmResourceConfig:
    """1 CPU and 200 MB per unit, two units per job, room for many jobs."""
    return SlurmResourceConfig(
        default_slurm_config=SlurmOptions(
            partition="main", cpus_per_task=cpus, mem=mem, **options
        ),
        batching_config=SlurmBatchingConfig(
            target_num_jobs=50,
            max_num_jobs=200,
            target_cpus_per_job=target_cpus,
            max_cpus_per_job=2,
            target_mem_per_job=4000,
            max_mem_per_job=8000,
        ),
    )


ExecutorFactory = Callable[..., SlurmExecutor]


@pytest.fixture
def slurm_executor_factory(
    slurm_cluster: Any, tmp_path: Path
) -> Iterator[ExecutorFactory]:
    """Makes `SlurmExecutor`s on the test cluster; cancels their work afterwards.

    Each executor gets its own watcher polling every `POLL` seconds unless
    `watcher=` is given; `host` defaults to `LocalHost()` (root here).
    """
    made: list[SlurmExecutor] = []

    def make(
        host: Host | None = None,
        *,
        workdir: Path | None = None,
        watcher: SlurmWatcher | None = None,
        **kwargs: Any,
    ) -> SlurmExecutor:
        host = host or LocalHost()
        folder = workdir or tmp_path / "slurm"
        kwargs.setdefault("resource", small_resource())
        kwargs.setdefault("cancel_grace", 1.0)
        executor = SlurmExecutor(
            host,
            remote_workdir=str(folder),
            slurm_env=slurm_cluster.env,
            watcher=watcher
            or SlurmWatcher(
                host,
                env=slurm_cluster.env,
                interval=POLL,
                jobcomp_file=str(slurm_cluster.jobcomp_file),
            ),
            **kwargs,
        )
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.shutdown(cancel=True)
