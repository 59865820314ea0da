"""`SlurmWatcher`: one squeue per round for every job on a host, real cluster."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fractal_core.executors.slurm import SlurmWatcher
from fractal_core.executors.slurm import WatcherRegistry
from fractal_core.executors.slurm.failures import JobFinal
from fractal_core.hosts import LocalHost
from fractal_core.hosts import SudoHost

from ..conftest import UnitFactory
from .conftest import GUARD
from .conftest import POLL
from .conftest import ExecutorFactory


class Listener:
    def __init__(self) -> None:
        self.polled: list[dict[str, str]] = []
        self.ended: list[JobFinal] = []
        self.event = threading.Event()

    def jobs_polled(self, states: Mapping[str, str]) -> None:
        self.polled.append(dict(states))

    def job_ended(self, final: JobFinal) -> None:
        self.ended.append(final)
        self.event.set()


def test_registry_shares_one_watcher_per_host_identity() -> None:
    registry = WatcherRegistry()
    env = {"SLURM_CONF": "/x"}
    first = registry.get(LocalHost(), env=env)
    assert registry.get(LocalHost(), env=env) is first  # same machine and user
    assert registry.get(LocalHost(), env={"SLURM_CONF": "/y"}) is not first
    alice = registry.get(SudoHost("alice"), env=env)
    assert alice is not first
    assert registry.get(SudoHost("alice"), env=env) is alice
    assert registry.get(SudoHost("bob"), env=env) is not alice


def test_two_executors_share_one_squeue_per_round(
    slurm_executor_factory: ExecutorFactory,
    make_unit: UnitFactory,
    slurm_cluster: Any,
) -> None:
    watcher = SlurmWatcher(LocalHost(), env=slurm_cluster.env, interval=POLL)
    one = slurm_executor_factory(watcher=watcher)
    two = slurm_executor_factory(watcher=watcher)
    first = one.submit([make_unit(f"a{i}", {"sleep": 2}) for i in range(4)])
    second = two.submit([make_unit(f"b{i}", {"sleep": 2}) for i in range(4)])
    assert first.wait(GUARD) and second.wait(GUARD)
    assert all(r.ok for r in [*first.results().values(), *second.results().values()])
    # one squeue call per round, whatever the number of jobs and executors
    assert watcher.stats.squeue == watcher.stats.rounds
    assert watcher.stats.rounds >= 1
    assert watcher.watched() == []  # everything resolved, nothing left behind


def test_a_job_unknown_to_every_source_is_reported_vanished(
    slurm_cluster: Any,
) -> None:
    """Never "gone means completed": a job no source knows is VANISHED."""
    watcher = SlurmWatcher(
        LocalHost(),
        env=slurm_cluster.env,
        interval=POLL,
        jobcomp_file=str(slurm_cluster.jobcomp_file),
    )
    listener = Listener()
    watcher.watch(["987654321"], listener)
    assert listener.event.wait(GUARD)
    (final,) = listener.ended
    assert final.vanished and final.state == "VANISHED"
    assert watcher.stats.scontrol >= 1 and watcher.stats.jobcomp >= 1


def test_finished_job_resolved_from_scontrol_after_sacct_refuses(
    slurm_cluster: Any, tmp_path: Any
) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\nexit 3\n")
    job = slurm_cluster.run(
        ["sbatch", "--parsable", "-o", str(tmp_path / "out"), str(script)]
    ).strip()
    watcher = SlurmWatcher(LocalHost(), env=slurm_cluster.env, interval=POLL)
    listener = Listener()
    watcher.watch([job], listener)
    assert listener.event.wait(GUARD)
    (final,) = listener.ended
    assert final.job_id == job and final.state == "FAILED"
    assert final.exit_code == 3 and final.source == "scontrol"
    assert watcher.stats.sacct == 1  # accounting is disabled: asked once


def test_failing_squeue_never_resolves_jobs_until_the_deadline(
    slurm_cluster: Any,
) -> None:
    """squeue failing (here: not found on the host) is "unknown", not "finished".

    (A wrong SLURM_CONF would do too, but squeue then retries for 60 s.)
    """
    broken = {**slurm_cluster.env, "PATH": "/nonexistent"}
    watcher = SlurmWatcher(LocalHost(), env=broken, interval=0.05, give_up_after=1.0)
    listener = Listener()
    watcher.watch(["1"], listener)
    assert listener.event.wait(GUARD)
    assert watcher.stats.failures >= 2  # retried before giving up
    assert listener.ended[0].vanished
    assert listener.polled == []
