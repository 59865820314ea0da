"""SLURM over SSH on the real cluster and sshd: watcher, reattach, faults.

The executor runs on an `SSHHost` logged in as the test user (`ssh_slurm_host`).
Counter files prove that nothing runs twice: an `sbatch` wrapper first on the
remote user's PATH appends a line per call, and each unit appends a line per
run. The fault tests stop the session's sshd (and restart it on the same
port) or kill its per-connection processes while the executor polls or moves
files. Waits are hang guards, never speed requirements.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors import ExecutorError
from fractal_core.executors import FailureKind
from fractal_core.executors.slurm import SlurmWatcher
from fractal_core.executors.slurm import WatcherRegistry
from tests.ssh import sshd as _sshd

from .conftest import GUARD
from .conftest import POLL
from .conftest import ExecutorFactory
from .conftest import small_resource
from .ssh_rig import Rig
from .ssh_rig import kill_when
from .ssh_rig import ssh_executor
from .submitter import submitter


def test_one_squeue_per_round_for_two_executors_on_one_connection(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    ssh_endpoint: _sshd.SSHEndpoint,
    slurm_cluster: Any,
) -> None:
    """Hosts of one login share a watcher: one squeue a round for both handles."""
    a, b = rig.host(ssh_endpoint), rig.host(ssh_endpoint)
    registry = WatcherRegistry()
    watcher = registry.get(a, env=rig.env, interval=POLL)
    assert registry.get(b, env=rig.env, interval=POLL) is watcher
    assert a._shared is b._shared
    first = ssh_executor(slurm_executor_factory, rig, a, watcher=watcher)
    second = ssh_executor(slurm_executor_factory, rig, b, watcher=watcher)
    h1 = first.submit([rig.unit(f"a{i}", sleep=1) for i in range(2)])
    h2 = second.submit([rig.unit(f"b{i}", sleep=1) for i in range(2)])
    assert h1.wait(GUARD) and h2.wait(GUARD)
    assert all(r.ok for r in {**h1.results(), **h2.results()}.values())
    stats = watcher.stats
    assert stats.rounds >= 1 and stats.squeue == stats.rounds  # one per round
    assert rig.sbatch_calls() == 2  # one job per executor (2 units per job)
    assert [rig.runs_of(n) for n in ("a0", "a1", "b0", "b1")] == [1, 1, 1, 1]


def test_reattach_over_ssh_after_the_submitting_process_is_killed(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    ssh_endpoint: _sshd.SSHEndpoint,
) -> None:
    """A new process attaches through its own SSH connection and collects."""
    units = [rig.unit("r0", sleep=3), rig.unit("r1"), rig.unit("r2", sleep=1)]
    with submitter(
        units,
        folder=rig.root,
        workdir=f"{rig.remote}/slurm",
        env=rig.env,
        endpoint=ssh_endpoint,
    ) as state:
        deadline = time.monotonic() + GUARD
        while rig.runs_of("r0") == 0:
            assert time.monotonic() < deadline, "r0 never started"
            time.sleep(0.1)
    assert not units[0].output_file.exists()  # nothing came back yet
    attached = ssh_executor(slurm_executor_factory, rig, rig.host(ssh_endpoint))
    handle = attached.attach(state)
    assert handle.wait(GUARD)
    results = handle.results()
    assert {k: r.output["name"] for k, r in results.items() if r.ok} == {
        "r0": "r0", "r1": "r1", "r2": "r2"
    }  # fmt: skip
    assert json.loads(units[0].output_file.read_text())["name"] == "r0"  # fetched
    assert [rig.runs_of(u.id) for u in units] == [1, 1, 1]
    assert rig.sbatch_calls() == 2  # submitted once, by the killed process


def test_sshd_stopped_and_restarted_while_polling(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    restarting_sshd: _sshd.SSHServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Polls fail while sshd is down; after the restart the units complete once."""
    server = restarting_sshd
    host = rig.host(server.endpoint, retries=0)
    executor = ssh_executor(slurm_executor_factory, rig, host)
    units = [rig.unit(f"p{i}", sleep=4) for i in range(4)]
    with caplog.at_level(logging.WARNING):
        handle = executor.submit(units)
        deadline = time.monotonic() + GUARD
        while rig.runs_of("p0") == 0:
            assert time.monotonic() < deadline, "p0 never started"
            time.sleep(0.05)
        _sshd.stop(server, keep_state=True)
        time.sleep(10 * POLL)  # several failed rounds
        assert not handle.done()
        _sshd.restart(server)
        assert handle.wait(GUARD)
    results = handle.results()
    assert all(r.ok for r in results.values()), results
    assert [results[u.id].output["name"] for u in units] == [u.id for u in units]
    assert [rig.runs_of(u.id) for u in units] == [1, 1, 1, 1]
    assert rig.sbatch_calls() == 2
    assert "squeue failed" in caplog.text or "SLURM command squeue" in caplog.text


def test_sshd_down_for_good_fails_with_a_transport_error(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    restarting_sshd: _sshd.SSHServer,
    slurm_cluster: Any,
) -> None:
    """Running units whose host stays unreachable fail naming the SSH step."""
    server = restarting_sshd
    host = rig.host(server.endpoint, retries=0)
    watcher = SlurmWatcher(host, env=rig.env, interval=POLL, give_up_after=1.0)
    executor = ssh_executor(slurm_executor_factory, rig, host, watcher=watcher)
    handle = executor.submit([rig.unit("d0", sleep=2)])
    deadline = time.monotonic() + GUARD
    while rig.runs_of("d0") == 0:
        assert time.monotonic() < deadline, "d0 never started"
        time.sleep(0.05)
    _sshd.stop(server, keep_state=True)
    try:
        assert handle.wait(GUARD)
        failure = handle.results()["d0"].failure
        assert failure is not None and failure.kind is FailureKind.EXECUTOR_ERROR
        assert "step 'connect' failed" in failure.message
        assert f":{server.endpoint.port}" in failure.message
        with pytest.raises(ExecutorError, match="step 'connect' failed"):
            executor.submit([rig.unit("late")])
    finally:
        _sshd.restart(server)
    assert rig.runs_of("d0") == 1 and rig.runs_of("late") == 0
    assert rig.sbatch_calls() == 1


def _tar_running(mode: str, folder: str) -> bool:
    """True while a `tar` of the test user runs in `mode` (-x / -c) on `folder`."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        wanted = mode.encode() in argv and folder.encode() in argv
        if argv and argv[0].endswith(b"tar") and wanted:
            return True
    return False


# paramiko's own threads may die with the connection and say so.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("direction", ["upload", "download"])
def test_connection_killed_during_a_file_transfer(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    sshd: _sshd.SSHServer,
    caplog: pytest.LogCaptureFixture,
    direction: str,
) -> None:
    """The cut-off tar stream is sent again; every unit still runs exactly once."""
    host = rig.host(sshd.endpoint)
    executor = ssh_executor(slurm_executor_factory, rig, host)
    pad = "x" * 4_000_000  # 8 units x 4 MB: the stream takes a while
    if direction == "upload":
        units = [rig.unit(f"u{i}", pad=pad) for i in range(8)]
        killed = kill_when(sshd, lambda: _tar_running("-x", rig.remote))
    else:
        units = [rig.unit(f"u{i}", out_pad=pad) for i in range(8)]
        killed = kill_when(sshd, lambda: _tar_running("-c", rig.remote))
    with caplog.at_level(logging.WARNING, logger="fractal_core.hosts.ssh"):
        handle = executor.submit(units)
        assert handle.wait(GUARD)
    results = handle.results()
    assert all(r.ok for r in results.values()), results
    assert killed, "the transfer was never cut off"
    assert "connection broke" in caplog.text and "retrying" in caplog.text
    assert [rig.runs_of(u.id) for u in units] == [1] * 8
    assert rig.sbatch_calls() == 4  # 2 units per job, each job submitted once
    if direction == "download":
        assert all(len(r.output["pad"]) == len(pad) for r in results.values())
    else:
        assert all(r.output["size"] == len(pad) for r in results.values())


def test_small_resource_is_what_the_counts_assume() -> None:
    """Two units per job (the counts of sbatch calls above rely on it)."""
    config = small_resource().batching_config
    assert config.target_cpus_per_job == 2 and config.max_cpus_per_job == 2
