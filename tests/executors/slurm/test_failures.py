"""Pure tests of `failures.py` and the wrapper records of `worker.py`.

The SLURM texts are the ones recorded on this machine's cluster in
/work/shared/reference/local-slurm.md (SLURM 22.05, no cgroups): a memory
kill is `FAILED` with "exceeded memory limit" in the error file, a time
limit `TIMEOUT` with "DUE TO TIME LIMIT", a cancel "CANCELLED AT".
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.executors import FailureKind
from fractal_core.executors.slurm.failures import OOM_PATTERNS
from fractal_core.executors.slurm.failures import JobFinal
from fractal_core.executors.slurm.failures import SlurmOutputError
from fractal_core.executors.slurm.failures import UnitRecord
from fractal_core.executors.slurm.failures import accounting_disabled
from fractal_core.executors.slurm.failures import classify_unit
from fractal_core.executors.slurm.failures import matching_lines
from fractal_core.executors.slurm.failures import parse_jobcomp
from fractal_core.executors.slurm.failures import parse_record
from fractal_core.executors.slurm.failures import parse_sacct
from fractal_core.executors.slurm.failures import parse_sbatch
from fractal_core.executors.slurm.failures import parse_scontrol
from fractal_core.executors.slurm.failures import parse_squeue
from fractal_core.executors.slurm.failures import vanished
from fractal_core.executors.slurm.worker import parse_status_listing
from fractal_core.executors.slurm.worker import unit_argv

OOM_ERR = (
    "slurmstepd-vm: error: StepId=41.0 exceeded memory limit (153055232 > "
    "104857600), being killed\n"
    "slurmstepd-vm: error: Exceeded job memory limit\n"
    "srun: error: vm: task 0: Killed\n"
)
OOM_OTHER_STEP = (
    "slurmstepd-vm: error: StepId=41.1 exceeded memory limit (153055232 > "
    "104857600), being killed\n"
)
TIMEOUT_ERR = (
    "slurmstepd-vm: error: *** JOB 12 ON vm CANCELLED AT 2026-01-01T00:01:08 "
    "DUE TO TIME LIMIT ***\n"
)
CANCEL_ERR = (
    "slurmstepd-vm: error: *** JOB 13 ON vm CANCELLED AT 2026-01-01T00:00:03 ***\n"
)
SCONTROL_FAILED = (
    "JobId=41 JobName=oom UserId=root(0) GroupId=root(0) Priority=1 "
    "JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 "
    "Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:9 RunTime=00:00:01 "
    "Command=/tmp/my job.sh WorkDir=/tmp\n"
)


def final(state: str, **kw: object) -> JobFinal:
    return JobFinal(job_id="41", state=state, source="scontrol", **kw)  # type: ignore[arg-type]


def test_sbatch_parsable_with_and_without_cluster() -> None:
    assert parse_sbatch("1234\n") == "1234"
    assert parse_sbatch("1234;fclocal\n") == "1234"
    for bad in ("", "Submitted batch job 12", "abc;x"):
        with pytest.raises(SlurmOutputError):
            parse_sbatch(bad)


def test_squeue_states() -> None:
    text = "12 RUNNING\n13 PENDING\n14+0 COMPLETING\n\n"
    assert parse_squeue(text) == {"12": "RUNNING", "13": "PENDING", "14": "COMPLETING"}


def test_scontrol_line_of_a_memory_kill() -> None:
    found = parse_scontrol(SCONTROL_FAILED)["41"]
    assert (found.state, found.exit_code, found.signal) == ("FAILED", 0, 9)
    assert found.reason == "NonZeroExitCode" and found.source == "scontrol"
    assert "ExitCode=0:9" in found.describe()


def test_scontrol_cancelled_by_user_state_is_reduced() -> None:
    line = "JobId=7 JobState=CANCELLED Reason=None ExitCode=0:15\n"
    assert parse_scontrol(line)["7"].state == "CANCELLED"


def test_sacct_and_accounting_disabled() -> None:
    text = "41|FAILED|0:9|None\n41.batch|FAILED|0:9|\n42|CANCELLED by 0|0:0|None\n"
    finals = parse_sacct(text)
    assert finals["41"].state == "FAILED" and finals["42"].state == "CANCELLED"
    assert accounting_disabled("sacct: error: Slurm accounting storage is disabled")
    assert not accounting_disabled("sacct: error: Invalid job id")


def test_jobcomp_last_line_wins_and_filters_ids() -> None:
    text = (
        "JobId=5 UserId=root(0) JobState=RUNNING\n"
        "JobId=5 UserId=root(0) Name=x JobState=TIMEOUT Partition=main\n"
        "JobId=6 JobState=COMPLETED\n"
    )
    finals = parse_jobcomp(text, ["5"])
    assert list(finals) == ["5"] and finals["5"].state == "TIMEOUT"
    assert finals["5"].source == "jobcomp"


def test_oom_lines_are_filtered_by_step() -> None:
    assert len(matching_lines(OOM_ERR, OOM_PATTERNS, step="41.0")) == 2
    # another step's kill is not this unit's evidence; job-level lines are
    assert matching_lines(OOM_ERR + OOM_OTHER_STEP, OOM_PATTERNS, step="41.0") == [
        line.strip() for line in OOM_ERR.splitlines()[:2]
    ]


def test_memory_kill_without_cgroups_is_out_of_memory_with_evidence() -> None:
    record = UnitRecord(started=True, started_at=1.0, step="41.0")
    verdict = classify_unit("u", record, final("FAILED"), OOM_ERR, err_file="/x.err")
    assert verdict.kind is FailureKind.OUT_OF_MEMORY
    assert "exceeded memory limit (153055232 > 104857600)" in verdict.message
    assert "/x.err" in verdict.message and verdict.evidence


def test_memory_kill_of_one_step_in_a_completed_job() -> None:
    record = UnitRecord(started=True, step="41.0")
    verdict = classify_unit("u", record, final("COMPLETED"), OOM_ERR)
    assert verdict.kind is FailureKind.OUT_OF_MEMORY
    other = classify_unit(
        "v",
        UnitRecord(started=True, step="41.1"),
        final("COMPLETED"),
        OOM_ERR.splitlines()[0],
    )
    assert other.kind is FailureKind.EXECUTOR_ERROR  # not its step


def test_cgroup_out_of_memory_state() -> None:
    verdict = classify_unit("u", UnitRecord(started=True), final("OUT_OF_MEMORY"), "")
    assert verdict.kind is FailureKind.OUT_OF_MEMORY


def test_time_limit_of_the_job() -> None:
    verdict = classify_unit(
        "u", UnitRecord(started=True), final("TIMEOUT"), TIMEOUT_ERR
    )
    assert verdict.kind is FailureKind.TIME_LIMIT
    assert "DUE TO TIME LIMIT" in verdict.message


def test_cancel_outside_the_executor_running_and_pending() -> None:
    running = classify_unit(
        "u", UnitRecord(started=True), final("CANCELLED"), CANCEL_ERR
    )
    assert running.kind is FailureKind.CANCELLED and "while running" in running.message
    assert "CANCELLED AT" in running.message
    pending = classify_unit("u", UnitRecord(), final("CANCELLED"), "")
    assert pending.kind is FailureKind.CANCELLED
    assert "before it started" in pending.message


def test_cancel_by_us_is_plain() -> None:
    verdict = classify_unit(
        "u", UnitRecord(), final("CANCELLED"), CANCEL_ERR, cancelled_by_us=True
    )
    assert verdict.kind is FailureKind.CANCELLED
    assert verdict.message == "Unit u was cancelled before it started."


@pytest.mark.parametrize(
    ("state", "word"), [("NODE_FAIL", "node failure"), ("PREEMPTED", "preempted")]
)
def test_node_failure_and_preemption(state: str, word: str) -> None:
    verdict = classify_unit("u", UnitRecord(started=True), final(state), "")
    assert verdict.kind is FailureKind.NODE_FAILURE and word in verdict.message


def test_vanished_job_is_an_executor_error_never_success() -> None:
    verdict = classify_unit("u", UnitRecord(started=True), vanished("41"), "")
    assert verdict.kind is FailureKind.EXECUTOR_ERROR
    assert "no source" in verdict.message and "41" in verdict.message


def test_unit_with_exit_status_is_judged_by_it() -> None:
    ok = classify_unit("u", UnitRecord(started=True, returncode=0), None, OOM_ERR)
    assert ok.ok
    bad = classify_unit("u", UnitRecord(started=True, returncode=3), None, "")
    assert bad.kind is FailureKind.NONZERO_EXIT and bad.returncode == 3
    timed = parse_record("1.0 41.0", "124 1.0 3.0", time_limit_s=2.0)
    verdict = classify_unit("u", timed, None, "", time_limit_s=2.0)
    assert verdict.kind is FailureKind.TIME_LIMIT and "2 seconds" in verdict.message


def test_exit_124_before_the_limit_is_the_task_own_code() -> None:
    record = parse_record("1.0 41.0", "124 1.0 1.5", time_limit_s=2.0)
    assert not record.timed_out
    verdict = classify_unit("u", record, None, "", time_limit_s=2.0)
    assert verdict.kind is FailureKind.NONZERO_EXIT


def test_no_exit_status_while_running_cannot_be_judged() -> None:
    with pytest.raises(ValueError, match="cannot classify"):
        classify_unit("u", UnitRecord(started=True), None, "")


def test_records() -> None:
    record = parse_record("1700000000.5 41.3", None, time_limit_s=None)
    assert record.started and record.returncode is None and record.step == "41.3"
    done = parse_record(None, "0 1.0 2.0", time_limit_s=None)
    assert done.started and done.returncode == 0 and done.ended_at == 2.0
    with pytest.raises(SlurmOutputError):
        parse_record(None, "garbage", time_limit_s=None)


def test_status_listing_with_colons_in_the_folder() -> None:
    text = (
        "/a:b/status/3.rc:0 1.0 2.0\n/a:b/status/3.start:1.0 7.0\n"
        "/a:b/status/4.rc.tmp:1\n"
    )
    assert parse_status_listing(text) == {3: {"rc": "0 1.0 2.0", "start": "1.0 7.0"}}


@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**9), st.sampled_from(["PENDING", "RUNNING", "COMPLETING"])
        ),
        unique_by=lambda t: t[0],
    )
)
def test_squeue_round_trip(rows: list[tuple[int, str]]) -> None:
    text = "".join(f"{i} {s}\n" for i, s in rows)
    assert parse_squeue(text) == {str(i): s for i, s in rows}


@given(st.text(alphabet=string.printable, max_size=300))
def test_classify_never_crashes_on_any_error_text(err: str) -> None:
    for state in ("FAILED", "COMPLETED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
        verdict = classify_unit(
            "u", UnitRecord(started=True, step="1.0"), final(state), err
        )
        assert verdict.kind is not None and len(verdict.message) < 10_000


@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
        st.text(max_size=20).filter(lambda v: "\x00" not in v),
        max_size=3,
    ),
    st.lists(
        st.text(min_size=1, max_size=20).filter(lambda v: "\x00" not in v),
        min_size=1,
        max_size=4,
    ),
)
def test_unit_argv_keeps_every_value_a_separate_word(
    env: dict[str, str], argv: list[str]
) -> None:
    words = unit_argv(argv, status_dir="/s", index=3, log_file="/l", env=env)
    assert words[-len(argv) :] == argv
    assert words[: len(env) + 1] == (
        ["env", *[f"{k}={v}" for k, v in env.items()]] if env else words[:1]
    )
    assert "/s" in words and "/l" in words


def test_unit_argv_refuses_bad_env_names() -> None:
    from fractal_core.executors import ExecutorError

    with pytest.raises(ExecutorError, match="1BAD"):
        unit_argv(["x"], status_dir="/s", index=0, log_file="/l", env={"1BAD": "v"})
