"""`SlurmExecutor` on the real test cluster: faults, cancel, reattach, sudo.

Every test submits real jobs to the single-node cluster of `tests/slurm`
(2 CPUs here). Waits are hang guards (`GUARD`), never speed requirements.
"""

from __future__ import annotations

import json
import os
import pwd
import sys
import textwrap
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors import FailureKind
from fractal_core.executors import ResourceRequest
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit
from fractal_core.executors.slurm import SlurmExecutor
from fractal_core.hosts import LocalHost
from fractal_core.hosts.base import CommandResult
from fractal_core.hosts.base import OutputCallback

from ..conftest import TASK_SCRIPT
from ..conftest import UnitFactory
from ..conftest import gone
from ..conftest import wait_for_file
from .conftest import GUARD
from .conftest import ExecutorFactory
from .conftest import small_resource
from .submitter import submitter

HOG = textwrap.dedent(
    """
    import sys, time
    chunks = []
    print("allocating", file=sys.stderr, flush=True)
    for _ in range(200):
        chunks.append(bytearray(50_000_000))
        time.sleep(0.2)
    """
)


class RecordingHost(LocalHost):
    """A real `LocalHost` that also records the programs it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        self.calls.append([str(a) for a in argv])
        return super().run(argv, env=env, cwd=cwd, timeout=timeout, on_output=on_output)

    def count(self, program: str) -> int:
        return sum(1 for argv in self.calls if argv[0] == program)


def job_state(cluster: Any, job_id: str) -> str:
    line = cluster.run(["scontrol", "-o", "show", "job", job_id])
    fields = dict(t.split("=", 1) for t in line.split() if "=" in t)
    return fields["JobState"]


def squeue_state(cluster: Any, job_id: str) -> str:
    return cluster.run(["squeue", "-h", "-o", "%T", "-j", job_id]).strip()


def wait_until(predicate: Any, what: str, timeout: float = GUARD) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_units_pack_into_jobs_with_one_sbatch_per_job(
    slurm_executor_factory: ExecutorFactory, make_unit: UnitFactory
) -> None:
    host = RecordingHost()
    executor = slurm_executor_factory(host)
    units = [make_unit(f"u{i}", {"output": i}) for i in range(5)]
    handle = executor.submit(units)
    assert handle.wait(GUARD)
    results = handle.results()
    assert [r.output for r in results.values()] == list(range(5))
    jobs = set(handle.native_ids().values())
    assert len(jobs) == 3  # two units per job (small_resource), 5 units
    assert host.count("sbatch") == 3 == executor.sbatch_calls
    snapshot = json.loads(json.dumps(handle.snapshot()))
    assert set(snapshot["slurm"]["jobs"]) == jobs


def test_out_of_memory_unit_is_classified_and_others_complete(
    slurm_executor_factory: ExecutorFactory, make_unit: UnitFactory, tmp_path: Path
) -> None:
    hog = tmp_path / "hog.py"
    hog.write_text(HOG)
    executor = slurm_executor_factory(resource=small_resource(mem=100))
    units = [
        make_unit("hog", command=f"{sys.executable} {hog}"),
        make_unit("ok1", {"output": 1}),
        make_unit("ok2", {"output": 2, "sleep": 2}),
    ]
    results = executor.submit(units).results()
    failure = results["hog"].failure
    assert failure is not None and failure.kind is FailureKind.OUT_OF_MEMORY, failure
    assert "exceeded memory limit" in failure.message.lower()
    assert "SLURM error file" in failure.message
    assert results["ok1"].ok and results["ok1"].output == 1
    assert results["ok2"].ok and results["ok2"].output == 2


def test_cancel_pending_job_returns_fast_and_leaves_no_log(
    slurm_executor_factory: ExecutorFactory,
    make_unit: UnitFactory,
    tmp_path: Path,
    slurm_cluster: Any,
) -> None:
    host = RecordingHost()
    executor = slurm_executor_factory(host)
    pid_file = tmp_path / "blocker-pid"
    blocker = make_unit("blocker", {"pid_file": str(pid_file), "sleep": 600})
    blocker = replace(blocker, resources=ResourceRequest(meta={"cpus_per_task": 2}))
    first = executor.submit([blocker])
    wait_for_file(pid_file)
    waiting = [make_unit("p0"), make_unit("p1")]
    second = executor.submit(waiting)
    job = second.native_ids()["p0"]
    wait_until(lambda: squeue_state(slurm_cluster, job) == "PENDING", "PENDING")
    started = time.monotonic()
    second.cancel()
    assert time.monotonic() - started < 30  # hang guard: one scancel, no waiting
    assert second.done()
    results = second.results()
    for unit in waiting:
        failure = results[unit.id].failure
        assert failure is not None and failure.kind is FailureKind.CANCELLED
        assert "before it started" in failure.message
        assert not unit.log_file.exists()
    assert [c for c in host.calls if c[0] == "scancel"] == [["scancel", job]]
    wait_until(lambda: job_state(slurm_cluster, job) == "CANCELLED", "CANCELLED")
    first.cancel()
    assert first.results()["blocker"].status is UnitStatus.CANCELLED
    assert gone(int(pid_file.read_text()))


def test_cancel_running_jobs_with_one_scancel(
    slurm_executor_factory: ExecutorFactory,
    make_unit: UnitFactory,
    tmp_path: Path,
    slurm_cluster: Any,
) -> None:
    host = RecordingHost()
    executor = slurm_executor_factory(host)
    units = [
        make_unit(f"r{i}", {"pid_file": str(tmp_path / f"pid{i}"), "sleep": 600})
        for i in range(4)
    ]
    handle = executor.submit(units)
    jobs = sorted(set(handle.native_ids().values()))
    assert len(jobs) == 2
    pid = int(wait_for_file(tmp_path / "pid0"))
    handle.cancel()
    scancels = [c for c in host.calls if c[0] == "scancel"]
    assert len(scancels) == 1 and sorted(scancels[0][1:]) == jobs
    results = handle.results()
    assert {r.status for r in results.values()} == {UnitStatus.CANCELLED}
    assert "while running" in results["r0"].failure.message  # type: ignore[union-attr]
    assert gone(pid)
    for job in jobs:
        wait_until(lambda j=job: job_state(slurm_cluster, j) == "CANCELLED", job)


def test_job_cancelled_behind_the_executor_is_classified_with_evidence(
    slurm_executor_factory: ExecutorFactory,
    make_unit: UnitFactory,
    tmp_path: Path,
    slurm_cluster: Any,
) -> None:
    executor = slurm_executor_factory()
    unit = make_unit("v", {"pid_file": str(tmp_path / "pid"), "sleep": 600})
    handle = executor.submit([unit])
    wait_for_file(tmp_path / "pid")
    slurm_cluster.run(["scancel", handle.native_ids()["v"]])
    assert handle.wait(GUARD)
    failure = handle.results()["v"].failure
    assert failure is not None and failure.kind is FailureKind.CANCELLED
    assert "outside this executor" in failure.message
    assert "CANCELLED AT" in failure.message  # the SLURM error file's line
    assert "JobState=CANCELLED" in failure.message


def test_reattach_after_the_submitting_process_is_killed(
    slurm_executor_factory: ExecutorFactory,
    make_unit: UnitFactory,
    tmp_path: Path,
    slurm_cluster: Any,
) -> None:
    units = [
        make_unit(
            "a", {"pid_file": str(tmp_path / "pid-a"), "sleep": 3, "output": "A"}
        ),
        make_unit("b", {"output": "B"}),
        make_unit("c", {"exit": 4}),
    ]
    with submitter(
        units, folder=tmp_path, workdir=str(tmp_path / "slurm"), env=slurm_cluster.env
    ) as state:
        wait_for_file(tmp_path / "pid-a", GUARD)
    attached = slurm_executor_factory().attach(state)
    assert attached.id == state["handle_id"]
    assert attached.wait(GUARD)
    results = attached.results()
    assert results["a"].ok and results["a"].output == "A"
    assert results["b"].ok and results["b"].output == "B"
    assert results["c"].failure is not None
    assert results["c"].failure.kind is FailureKind.NONZERO_EXIT
    assert results["c"].failure.returncode == 4
    assert set(attached.native_ids().values()) == {
        u["native_id"] for u in state["units"]
    }


@pytest.mark.slow
def test_slurm_time_limit_is_classified(
    slurm_executor_factory: ExecutorFactory, make_unit: UnitFactory
) -> None:
    """`time=1` (one minute, SLURM's smallest unit): the job hits TIMEOUT (~65 s)."""
    executor = slurm_executor_factory()
    unit = make_unit("slow", {"sleep": 300})
    unit = replace(unit, resources=ResourceRequest(meta={"time": "1"}))
    result = executor.submit([unit]).results()["slow"]
    assert result.failure is not None
    assert result.failure.kind is FailureKind.TIME_LIMIT, result.failure
    assert "DUE TO TIME LIMIT" in result.failure.message
    assert "JobState=TIMEOUT" in result.failure.message


def test_sudo_mode_runs_units_as_the_other_user(
    slurm_executor_factory: ExecutorFactory,
    fractal_user_host: Any,
    slurm_workdir: Path,
) -> None:
    """Units run as `fractal_user`; their files are copied back through sudo."""
    user = fractal_user_host.user
    script = slurm_workdir / "task.py"
    script.write_text(TASK_SCRIPT)
    script.chmod(0o644)
    local = slurm_workdir / "local"
    local.mkdir()
    units = []
    for name, args in (("ok", {"output": {"x": 1}}), ("fails", {"exit": 5})):
        args_file = local / f"{name}-args.json"
        args_file.write_text(json.dumps({"name": name, **args}))
        units.append(
            WorkUnit(
                id=name,
                command=f"/usr/bin/python3 {script}",
                args_file=args_file,
                output_file=local / f"{name}-out.json",
                log_file=local / f"{name}-log.txt",
                args_file_remote=str(slurm_workdir / "remote" / f"{name}-args.json"),
                output_file_remote=str(slurm_workdir / "remote" / f"{name}-out.json"),
                log_file_remote=str(slurm_workdir / "remote" / f"{name}-log.txt"),
            )
        )
    executor = slurm_executor_factory(
        fractal_user_host, workdir=slurm_workdir / "slurm"
    )
    results = executor.submit(units).results()
    assert results["ok"].ok and results["ok"].output == {"x": 1}
    assert results["fails"].failure is not None
    assert results["fails"].failure.returncode == 5
    assert "hello from stderr" in results["fails"].failure.message
    uid = pwd.getpwnam(user).pw_uid
    remote_out = slurm_workdir / "remote" / "ok-out.json"
    assert os.stat(remote_out).st_uid == uid  # written by the user's task
    assert units[0].output_file.read_text() == remote_out.read_text()  # copied back


def test_executor_refuses_relative_workdir() -> None:
    from fractal_core.executors import ExecutorError

    with pytest.raises(ExecutorError, match="remote_workdir='rel'"):
        SlurmExecutor(LocalHost(), remote_workdir="rel")


WORKFLOW: list[tuple[str, dict[str, Any]]] = [
    ("create_images", {"args_non_parallel": {"num_images": 3}}),  # converter
    ("project_compound", {}),  # compound
    ("mark_image", {}),  # parallel
    ("unset_attribute", {"args_non_parallel": {"attribute": "well"}}),  # non-par.
    ("create_images_compound", {"args_non_parallel": {"plate": "b.zarr"}}),
]


def _run_workflow(
    kit: Any,
    executor: Any,
    root: Path,
    *,
    remote: Path | None = None,
) -> list[dict[str, Any]]:
    """Run `WORKFLOW` with `executor`; images with `root` replaced by "ROOT"."""
    from fractal_core.engine.recorder import InMemoryRecorder
    from fractal_core.engine.runner import run_workflow
    from fractal_core.images.image_list import ImageList
    from tests.engine.harness import DatasetStub
    from tests.engine.harness import build_workflow

    dataset = DatasetStub(zarr_dir=str(root / "zarr"))
    recorder = InMemoryRecorder()
    run_workflow(
        wf_task_list=build_workflow(kit, WORKFLOW).task_list,
        dataset=dataset,
        executor=executor,
        workflow_dir_local=root / "job",
        workflow_dir_remote=remote,
        recorder=recorder,
        job_id=1,
    )
    runs = list(recorder.runs.values())
    assert [r.status for r in runs] == ["done"] * len(WORKFLOW)
    images = ImageList(dataset.images).to_list()
    return json.loads(json.dumps(images).replace(str(root), "ROOT"))


def _run_in_user_folder(kit: Any, executor: Any, workdir: Path) -> list[dict[str, Any]]:
    """`_run_workflow` in a new world-writable `workdir/run` (the zarr of a user)."""
    root = workdir / "run"
    root.mkdir()
    root.chmod(0o777)
    return _run_workflow(kit, executor, root, remote=workdir / "remote")


@pytest.mark.parametrize("mode", ["same-user", "sudo", "ssh"])
def test_workflow_of_every_task_type_matches_the_local_executor(
    mode: str,
    request: pytest.FixtureRequest,
    slurm_executor_factory: ExecutorFactory,
    tmp_path: Path,
) -> None:
    """Every testkit task type, as root, as `fractal_user` by sudo and over SSH.

    In the sudo and SSH modes job files live in a user-owned remote folder and
    come back (by tar over SSH); the zarr is written by the test user.
    """
    from fractal_core.executors import LocalExecutor

    if mode == "same-user":
        kit = request.getfixturevalue("slurm_testkit")
        with LocalExecutor(max_workers=2) as local:
            expected = _run_workflow(kit, local, tmp_path / "local")
        got = _run_workflow(kit, slurm_executor_factory(), tmp_path / "slurm")
        assert got == expected
        assert len(expected) == 3 + 3 + 2  # raw, projections, second converter
        return
    kit = request.getfixturevalue("shared_testkit")
    host = request.getfixturevalue(
        "fractal_user_host" if mode == "sudo" else "ssh_slurm_host"
    )
    workdir: Path = request.getfixturevalue("slurm_workdir")
    with LocalExecutor(max_workers=2) as local:
        expected = _run_workflow(kit, local, tmp_path / "local")
    executor = slurm_executor_factory(host, workdir=workdir / "slurm")
    got = _run_in_user_folder(kit, executor, workdir)
    assert got == expected
    root = workdir / "run"
    uid = pwd.getpwnam("fractal_user").pw_uid
    assert os.stat(root / "zarr" / "plate.zarr").st_uid == uid  # made by the user
    assert os.stat(workdir / "remote").st_uid == uid
