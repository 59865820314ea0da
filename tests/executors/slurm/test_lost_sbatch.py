"""A lost `sbatch` answer: looked up by its token, adopted, resubmitted once or failed.

On the real cluster. `sbatch` wrappers first on PATH decide what the call
does (submit then hang, hang without submitting); the answer is lost either
to a command timeout (`LocalHost`, `Sbatch` directly) or to a cut SSH
connection (`SSHHost`, the whole executor): the test kills the sshd's
connections, or stops the sshd, while the wrapper hangs. Counter files prove
that every unit ran once and how many times `sbatch` was called.
"""

from __future__ import annotations

import logging
import string
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.executors import ExecutorError
from fractal_core.executors import FailureKind
from fractal_core.executors.slurm.submission import SQUEUE_TOKENS
from fractal_core.executors.slurm.submission import LostSubmission
from fractal_core.executors.slurm.submission import Sbatch
from fractal_core.executors.slurm.submission import check_token
from fractal_core.executors.slurm.submission import find_jobs
from fractal_core.executors.slurm.submission import jobs_by_token
from fractal_core.executors.slurm.submission import new_token
from fractal_core.hosts import LocalHost
from tests.ssh import sshd as _sshd

from .conftest import GUARD
from .conftest import ExecutorFactory
from .ssh_rig import Rig
from .ssh_rig import kill_when
from .ssh_rig import ssh_executor

# -- pure parts -------------------------------------------------------------------

_comment = st.one_of(
    st.just("(null)"),
    st.builds(lambda: new_token()),
    st.text(
        st.sampled_from(string.ascii_letters + string.digits + "-_ ()"), max_size=20
    ),
)


@given(st.lists(st.tuples(st.integers(1, 10**7), _comment), max_size=30))
def test_jobs_by_token_finds_exactly_the_jobs_carrying_each_token(
    rows: list[tuple[int, str]],
) -> None:
    """Every listed job whose comment is a wanted token is found, no other."""
    stdout = "".join(f"{job}|{comment}\n" for job, comment in rows)
    wanted = {c for _, c in rows if c.startswith("fractal-")} | {new_token()}
    found = jobs_by_token(stdout, wanted)
    assert set(found) == wanted
    for token in wanted:
        assert found[token] == [str(j) for j, c in rows if c.strip() == token]


@pytest.mark.parametrize(
    "token", ["", "fractal-", "fractal-XYZ", "x" * 41, "fractal-" + "a" * 31 + ";"]
)
def test_check_token_refuses_other_shapes(token: str) -> None:
    """A snapshot's token must be one `new_token` could have made."""
    with pytest.raises(ExecutorError, match="token="):
        check_token(token)


# -- Sbatch on LocalHost: the answer lost to a command timeout ---------------------

HANG_AFTER_SUBMIT = """#!/bin/sh
echo call >> "{counter}"
if mkdir "{marker}" 2>/dev/null; then
  out=$("{sbatch}" "$@") || exit $?
  echo "$out" > "{submitted}.tmp" && mv "{submitted}.tmp" "{submitted}"
  sleep 30
  echo "$out"
  exit 0
fi
exec "{sbatch}" "$@"
"""

HANG_BEFORE_SUBMIT = """#!/bin/sh
echo call >> "{counter}"
if mkdir "{marker}" 2>/dev/null; then
  touch "{submitted}"
  sleep 30
  exit 3
fi
exec "{sbatch}" "$@"
"""

ALWAYS_HANG = """#!/bin/sh
echo call >> "{counter}"
touch "{submitted}"
sleep 30
exit 3
"""

JOB = "#!/bin/sh\n#SBATCH --partition=main --mem=10M --output={out}\ntrue\n"


class LocalRig:
    """A job script and an `sbatch` (and maybe `squeue`) wrapper on PATH."""

    def __init__(self, root: Path, cluster: Any, template: str) -> None:
        self.root = root
        self.cluster = cluster
        self.counter = root / "sbatch-calls"
        self.submitted = root / "submitted"
        (root / "bin").mkdir()
        real = subprocess.run(
            ["sh", "-c", "command -v sbatch"], capture_output=True, text=True
        ).stdout.strip()
        self.write_bin(
            "sbatch",
            template.format(
                counter=self.counter,
                sbatch=real,
                marker=root / "first",
                submitted=self.submitted,
            ),
        )
        self.env = {**cluster.env, "PATH": f"{root / 'bin'}:/usr/bin:/bin"}
        self.script = root / "job.sh"
        self.script.write_text(JOB.format(out=root / "slurm-%j.out"))

    def write_bin(self, name: str, text: str) -> None:
        path = self.root / "bin" / name
        path.write_text(text)
        path.chmod(0o755)

    def sbatch(self, **kwargs: Any) -> Sbatch:
        options: dict[str, Any] = {"backoff": 0.1, "confirm_delay": 0.2, **kwargs}
        return Sbatch(LocalHost(), self.env, 2.0, **options)

    def calls(self) -> int:
        return (
            len(self.counter.read_text().splitlines()) if self.counter.exists() else 0
        )

    def jobs_of(self, token: str) -> list[str]:
        return find_jobs(LocalHost(), self.cluster.env, [token], 30.0)[token]


def test_timed_out_sbatch_whose_job_exists_is_adopted(
    tmp_path: Path, slurm_cluster: Any
) -> None:
    """The job submitted before sbatch hung is found by its token: not resubmitted."""
    rig = LocalRig(tmp_path, slurm_cluster, HANG_AFTER_SUBMIT)
    token = new_token()
    job_id = rig.sbatch().submit(str(rig.script), token)
    assert job_id == rig.submitted.read_text().strip()
    assert rig.calls() == 1
    assert rig.jobs_of(token) == [job_id]


def test_timed_out_sbatch_without_job_is_submitted_again_once(
    tmp_path: Path, slurm_cluster: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No job carries the token (asked twice): one more sbatch, one job in all."""
    rig = LocalRig(tmp_path, slurm_cluster, HANG_BEFORE_SUBMIT)
    token = new_token()
    with caplog.at_level(logging.WARNING):
        job_id = rig.sbatch().submit(str(rig.script), token)
    assert rig.calls() == 2
    assert rig.jobs_of(token) == [job_id]
    assert "submitting again, once" in caplog.text


def test_an_answer_lost_twice_is_never_submitted_a_third_time(
    tmp_path: Path, slurm_cluster: Any
) -> None:
    rig = LocalRig(tmp_path, slurm_cluster, ALWAYS_HANG)
    token = new_token()
    with pytest.raises(ExecutorError, match="lost twice") as info:
        rig.sbatch().submit(str(rig.script), token)
    assert token in str(info.value)
    assert rig.calls() == 2
    assert rig.jobs_of(token) == []


def test_a_queue_that_never_answers_fails_naming_the_lost_answer(
    tmp_path: Path, slurm_cluster: Any
) -> None:
    """squeue fails too: after `lost_timeout` the error names both and the token."""
    rig = LocalRig(tmp_path, slurm_cluster, ALWAYS_HANG)
    rig.write_bin("squeue", "#!/bin/sh\necho 'controller unreachable' >&2\nexit 1\n")
    token = new_token()
    with pytest.raises(LostSubmission) as info:
        rig.sbatch(lost_timeout=1.0).submit(str(rig.script), token)
    message = str(info.value)
    assert info.value.token == token and token in message
    assert "timed out" in message and "controller unreachable" in message
    assert rig.calls() == 1


def test_the_token_lookup_is_a_plain_squeue_of_the_users_jobs() -> None:
    """What runs on the cluster (kept readable: no accounting needed)."""
    assert SQUEUE_TOKENS[:2] == ["squeue", "--me"]
    assert "--states=all" in SQUEUE_TOKENS and "--format=%i|%k" in SQUEUE_TOKENS


# -- the whole executor over SSH: the connection cut while sbatch hangs ----------


def _submitted(rig: Rig) -> bool:
    return (rig.root / "submitted").exists()


def _wait_cancelled(cluster: Any, job_id: str) -> None:
    """Until SLURM says the job is CANCELLED (a hang guard, not a speed test)."""
    deadline = time.monotonic() + GUARD
    while "JobState=CANCELLED" not in cluster.run(
        ["scontrol", "-o", "show", "job", job_id]
    ):
        assert time.monotonic() < deadline, f"job {job_id} was not cancelled"
        time.sleep(0.2)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_connection_cut_after_sbatch_submitted_adopts_the_job(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    sshd: _sshd.SSHServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The job of the lost answer is watched to the end; nothing runs twice."""
    rig.set_sbatch(HANG_AFTER_SUBMIT)
    executor = ssh_executor(slurm_executor_factory, rig, rig.host(sshd.endpoint))
    killed = kill_when(sshd, lambda: _submitted(rig))
    units = [rig.unit(f"a{i}", sleep=1) for i in range(3)]
    with caplog.at_level(logging.WARNING):
        handle = executor.submit(units)
    assert "connection broke" in caplog.text and "adopted" in caplog.text
    assert killed, "the connection was never cut"
    assert handle.wait(GUARD)
    results = handle.results()
    assert all(r.ok for r in results.values()), results
    adopted = (rig.root / "submitted").read_text().strip()
    assert {handle.native_ids()["a0"], handle.native_ids()["a1"]} == {adopted}
    assert [rig.runs_of(u.id) for u in units] == [1, 1, 1]
    assert rig.sbatch_calls() == 2 == executor.sbatch_calls  # 2 jobs, once each
    assert handle.lost_tokens == {}


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_connection_cut_before_sbatch_submitted_submits_once_more(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    sshd: _sshd.SSHServer,
) -> None:
    """No job carries the token: submitted again once; every unit runs once."""
    rig.set_sbatch(HANG_BEFORE_SUBMIT)
    executor = ssh_executor(slurm_executor_factory, rig, rig.host(sshd.endpoint))
    killed = kill_when(sshd, lambda: _submitted(rig))
    units = [rig.unit(f"b{i}") for i in range(3)]
    handle = executor.submit(units)
    assert killed, "the connection was never cut"
    assert handle.wait(GUARD)
    results = handle.results()
    assert all(r.ok for r in results.values()), results
    assert [rig.runs_of(u.id) for u in units] == [1, 1, 1]
    assert rig.sbatch_calls() == 3 == executor.sbatch_calls  # 2 jobs + 1 resubmit
    assert len(set(handle.native_ids().values())) == 2


def test_sshd_down_during_sbatch_fails_the_units_then_cancel_finds_the_job(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    restarting_sshd: _sshd.SSHServer,
    slurm_cluster: Any,
) -> None:
    """Unreachable past the deadline: units fail saying so; cancel() finds the job."""
    server = restarting_sshd
    rig.set_sbatch(HANG_AFTER_SUBMIT)
    host = rig.host(server.endpoint, retries=0)
    executor = ssh_executor(slurm_executor_factory, rig, host, lost_sbatch_timeout=2.0)
    stopped: list[bool] = []

    def stop_sshd() -> bool:
        if _submitted(rig) and not stopped:
            _sshd.stop(server, keep_state=True)
            stopped.append(True)
        return bool(stopped)

    kill_when(server, stop_sshd)
    handle = executor.submit([rig.unit("c0", sleep=60)])
    try:
        assert handle.done()
        failure = handle.results()["c0"].failure
        assert failure is not None and failure.kind is FailureKind.EXECUTOR_ERROR
        [token] = handle.lost_tokens
        assert "maybe submitted" in failure.message and token in failure.message
        assert "connection broke" in failure.message
        assert handle.snapshot()["slurm"]["lost_tokens"] == {token: [0]}
    finally:
        _sshd.restart(server)
    job_id = (rig.root / "submitted").read_text().strip()
    # A new process attaches the snapshot; cancel() finds the job by its token.
    later = ssh_executor(slurm_executor_factory, rig, rig.host(server.endpoint))
    attached = later.attach(handle.snapshot())
    assert attached.done() and attached.lost_tokens == {token: [0]}
    attached.cancel()
    _wait_cancelled(slurm_cluster, job_id)
    assert rig.sbatch_calls() == 1 and rig.runs_of("c0") <= 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_cancel_while_sbatch_is_under_way_cancels_the_job_by_its_token(
    slurm_executor_factory: ExecutorFactory,
    rig: Rig,
    sshd: _sshd.SSHServer,
    slurm_cluster: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """shutdown(cancel=True) before sbatch answered: the job is found and cancelled."""
    rig.set_sbatch(HANG_AFTER_SUBMIT)
    executor = ssh_executor(slurm_executor_factory, rig, rig.host(sshd.endpoint))

    def cancel_then_cut() -> bool:
        if not _submitted(rig):
            return False
        executor.shutdown(cancel=True)  # the job id is not known yet
        return True

    killed = kill_when(sshd, cancel_then_cut)
    with caplog.at_level(logging.INFO, logger="fractal_core.executors.slurm"):
        handle = executor.submit([rig.unit("x0", sleep=60)])
    assert killed, "the connection was never cut"
    assert "found by their submission tokens" in caplog.text  # before the answer
    assert handle.wait(GUARD)
    failure = handle.results()["x0"].failure
    assert failure is not None and failure.kind is FailureKind.CANCELLED
    job_id = (rig.root / "submitted").read_text().strip()
    _wait_cancelled(slurm_cluster, job_id)
    assert rig.sbatch_calls() == 1 and rig.runs_of("x0") <= 1
