"""A lost `sbatch` answer whose job already ran and left the controller.

SLURM forgets an ended job `MinJobAge` seconds after it ended (300 s on the
test cluster, which other tests rely on for `scontrol`), after which the
token lookup in `squeue` cannot find it. The job script's start marker
(`<submission folder>/<token>.started`, holding the job id) is the evidence
that it ran: such a job is adopted, never submitted again. On the real
cluster: the purge is stood in for by `squeue`/`scontrol` wrappers that leave
the purged job out of their answers (the test cluster's `MinJobAge` cannot be
lowered without changing what other tests see). Counter files prove that each
unit ran once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors.slurm import SlurmConfig
from fractal_core.executors.slurm import SlurmJobSpec
from fractal_core.executors.slurm import sbatch_script
from fractal_core.executors.slurm.script import marker_lines
from fractal_core.executors.slurm.submission import LostSubmission
from fractal_core.executors.slurm.submission import marker_path
from fractal_core.executors.slurm.submission import new_token
from tests.ssh import sshd as _sshd

from .conftest import GUARD
from .conftest import ExecutorFactory
from .ssh_rig import Rig
from .ssh_rig import kill_when
from .ssh_rig import ssh_executor
from .test_lost_sbatch import ALWAYS_HANG
from .test_lost_sbatch import HANG_BEFORE_SUBMIT
from .test_lost_sbatch import LocalRig

SHELLS = [shell for shell in ("sh", "bash") if shutil.which(shell)]

# First call: submit, wait until the job COMPLETED, mark it purged, then hang
# so that the test cuts the connection and the answer is lost.
SUBMIT_RUN_PURGE_HANG = """#!/bin/sh
echo call >> "{counter}"
if mkdir "{first}" 2>/dev/null; then
  out=$("{sbatch}" "$@") || exit $?
  id=${{out%%;*}}
  n=0
  until "{scontrol}" -o show job "$id" | grep -q "JobState=COMPLETED"; do
    n=$((n + 1))
    [ "$n" -lt 600 ] || exit 4
    sleep 0.2
  done
  echo "$id" >> "{purged}"
  echo "$id" > "{submitted}.tmp" && mv "{submitted}.tmp" "{submitted}"
  sleep 30
  echo "$out"
  exit 0
fi
exec "{sbatch}" "$@"
"""

# Stands in for SLURM's purge of ended jobs (MinJobAge): the jobs listed in
# {purged} are left out of every squeue answer.
HIDE_PURGED_SQUEUE = """#!/bin/sh
out=$("{squeue}" "$@"); rc=$?
ids=$(paste -sd'|' "{purged}" 2>/dev/null)
if [ -n "$ids" ]; then
  printf '%s\\n' "$out" | grep -v -E "^ *($ids)([ |]|$)"
else
  printf '%s\\n' "$out"
fi
exit $rc
"""

# Stands in for the purge: `scontrol show job` of a purged job fails as SLURM's.
HIDE_PURGED_SCONTROL = """#!/bin/sh
for arg; do
  if grep -qxF -e "$arg" "{purged}" 2>/dev/null; then
    echo "slurm_load_jobs error: Invalid job id specified" >&2
    exit 1
  fi
done
exec "{scontrol}" "$@"
"""


def _which(program: str) -> str:
    found = shutil.which(program)
    assert found, f"{program} not on PATH"
    return found


def _write_bin(rig: Rig, name: str, text: str) -> None:
    path = rig.root / "bin" / name
    path.write_text(text)
    path.chmod(0o755)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_lost_answer_whose_job_ran_and_was_purged_is_adopted_not_rerun(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    sshd: _sshd.SSHServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The queue no longer knows the job; its start marker does: not submitted again.

    Without the marker the queue's two empty answers would resubmit the job
    and units a0 and a1 would run twice (3 sbatch calls instead of 2).
    """
    names = {
        "counter": rig.sbatch_counter,
        "sbatch": rig.real_sbatch,
        "first": rig.root / "first-sbatch",
        "purged": rig.root / "purged",
        "submitted": rig.root / "submitted",
        "squeue": _which("squeue"),
        "scontrol": _which("scontrol"),
    }
    _write_bin(rig, "sbatch", SUBMIT_RUN_PURGE_HANG.format(**names))
    _write_bin(rig, "squeue", HIDE_PURGED_SQUEUE.format(**names))
    _write_bin(rig, "scontrol", HIDE_PURGED_SCONTROL.format(**names))
    executor = ssh_executor(slurm_executor_factory, rig, rig.host(sshd.endpoint))
    killed = kill_when(sshd, lambda: (rig.root / "submitted").exists())
    units = [rig.unit(f"a{i}") for i in range(3)]
    with caplog.at_level(logging.WARNING):
        handle = executor.submit(units)
    assert killed, "the connection was never cut"
    assert "already started" in caplog.text and "not submitted again" in caplog.text
    assert handle.wait(GUARD)
    results = handle.results()
    assert all(r.ok for r in results.values()), results
    for unit in units:
        assert results[unit.id].output["name"] == unit.id
        assert json.loads(unit.output_file.read_text())["name"] == unit.id
    purged = (rig.root / "submitted").read_text().strip()
    assert {handle.native_ids()["a0"], handle.native_ids()["a1"]} == {purged}
    folder = rig.root / "remote" / "slurm" / handle.id
    markers = {m.read_text().strip() for m in folder.glob("fractal-*.started")}
    assert markers == set(handle.native_ids().values())  # one per job, its id
    assert [rig.runs_of(u.id) for u in units] == [1, 1, 1]
    assert rig.sbatch_calls() == 2 == executor.sbatch_calls  # 2 jobs, once each
    assert handle.lost_tokens == {}


# -- Sbatch on LocalHost: the marker decides when the queue has no job ------------


def test_a_marker_with_a_job_id_is_adopted_without_resubmitting(
    tmp_path: Path, slurm_cluster: Any
) -> None:
    """The queue twice lists no job; the marker names one: that id, one sbatch."""
    rig = LocalRig(tmp_path, slurm_cluster, ALWAYS_HANG)
    token = new_token()
    marker = marker_path(str(tmp_path), token)
    Path(marker).write_text("4242\n")
    assert rig.sbatch().submit(str(rig.script), token, marker) == "4242"
    assert rig.calls() == 1


def test_a_marker_without_a_job_id_fails_without_resubmitting(
    tmp_path: Path, slurm_cluster: Any
) -> None:
    rig = LocalRig(tmp_path, slurm_cluster, ALWAYS_HANG)
    token = new_token()
    marker = marker_path(str(tmp_path), token)
    Path(marker).write_text("garbage")
    with pytest.raises(LostSubmission, match="not a job id") as info:
        rig.sbatch().submit(str(rig.script), token, marker)
    assert info.value.token == token and marker in str(info.value)
    assert rig.calls() == 1


def test_no_marker_and_no_job_is_still_submitted_again_once(
    tmp_path: Path, slurm_cluster: Any
) -> None:
    rig = LocalRig(tmp_path, slurm_cluster, HANG_BEFORE_SUBMIT)
    token = new_token()
    marker = marker_path(str(tmp_path), token)
    job_id = rig.sbatch().submit(str(rig.script), token, marker)
    assert rig.calls() == 2
    assert rig.jobs_of(token) == [job_id]


# -- the script's marker lines ----------------------------------------------------


def _run_marker(shell: str, marker: Path, job_id: str) -> subprocess.CompletedProcess:
    script = "\n".join([*marker_lines(str(marker)), "echo ran", ""])
    return subprocess.run(
        [shell, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "SLURM_JOB_ID": job_id},
        timeout=GUARD,
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_marker_lines_record_the_job_or_stop_a_second_one(
    shell: str, tmp_path: Path
) -> None:
    """First job: writes its id and runs. Same id again (a requeue): runs.
    Another id: runs nothing, exit 0, naming the first. Unwritable: exit 1."""
    marker = tmp_path / "fractal-x.started"
    first = _run_marker(shell, marker, "7")
    assert (first.returncode, first.stdout) == (0, "ran\n"), first.stderr
    assert marker.read_text() == "7\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [marker.name]
    requeued = _run_marker(shell, marker, "7")
    assert (requeued.returncode, requeued.stdout) == (0, "ran\n")
    second = _run_marker(shell, marker, "8")
    assert (second.returncode, second.stdout) == (0, "")
    assert "job 8 runs nothing: job 7" in second.stderr
    assert marker.read_text() == "7\n"
    nowhere = _run_marker(shell, tmp_path / "missing" / "m.started", "9")
    assert nowhere.returncode == 1 and nowhere.stdout == ""


def test_a_second_job_with_the_same_token_runs_nothing_on_the_cluster(
    slurm_cluster: Any, slurm_workdir: Path
) -> None:
    """Two jobs of one script (one token): the unit runs in the first only."""
    counter = slurm_workdir / "runs"
    marker = marker_path(str(slurm_workdir), new_token())
    config = SlurmConfig(
        partition=slurm_cluster.partition,
        cpus_per_task=1,
        mem_per_task_MB=100,
        target_cpus_per_job=1,
        max_cpus_per_job=1,
        target_mem_per_job=1,
        max_mem_per_job=1,
        target_num_jobs=1,
        max_num_jobs=1,
        parallel_tasks_per_job=1,
    )
    spec = SlurmJobSpec(
        name="fractal-marker-test",
        config=config,
        commands=[["sh", "-c", 'echo run >> "$0"', str(counter)]],
        log_out=str(slurm_workdir / "job-%j.out"),
        log_err=str(slurm_workdir / "job-%j.err"),
        workdir=str(slurm_workdir),
        parallel=1,
        marker=marker,
    )
    script = slurm_workdir / "job.sh"
    script.write_text(sbatch_script(spec))
    ids = []
    for _ in range(2):
        out = slurm_cluster.run(["sbatch", "--parsable", str(script)])
        ids.append(out.strip().split(";")[0])
        info = slurm_cluster.wait_finished(ids[-1], timeout=GUARD)
        assert info["JobState"] == "COMPLETED", info
    assert counter.read_text() == "run\n"
    assert Path(marker).read_text().strip() == ids[0]
    err = (slurm_workdir / f"job-{ids[1]}.err").read_text()
    assert f"job {ids[1]} runs nothing: job {ids[0]}" in err
    assert "fractal-unit" not in (slurm_workdir / f"job-{ids[1]}.out").read_text()
