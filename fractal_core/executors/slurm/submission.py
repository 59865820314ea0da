"""Idempotent `sbatch`: a token per submission, looked up when the answer is lost.

Every `sbatch` call carries `--comment=<token>` (`fractal-<32 hex digits>`,
unique per SLURM job of a handle). SLURM keeps the comment in the job record
without any accounting, and `squeue --me --states=all --format='%i|%k'` lists
it for pending, running and recently ended jobs (those still in the
controller, `MinJobAge`).

When the command's answer is lost to the transport (the SSH connection broke,
`SSHTransportError`; or the command hung past its timeout,
`CommandTimeoutError`), the job may or may not exist. `Sbatch.submit` then asks
the queue for the token, retrying with backoff until `lost_timeout` seconds
have passed:

- the token is found: that job is adopted (its id returned, nothing submitted
  again);
- the queue does not list the token, but the job's start marker exists on the
  host (`marker_path`: the script writes its job id there as its first action,
  `script.py`): the job was accepted, ran and was purged from the controller
  (`MinJobAge`) before the queue was asked. The id read from the marker is
  adopted; the watcher then resolves the job from sacct or the jobcomp file,
  or reports it `VANISHED`, and its units are judged by the records they
  left, like those of any job that left the queue;
- the queue answered twice, `confirm_delay` seconds apart, without the token,
  and no marker exists: the script is submitted again, exactly once, with the
  same token (a second lost answer is looked up the same way, but never
  submitted a third time);
- the queue never answered before the deadline: `LostSubmission`, naming the
  transport error and the token, so the units can fail saying so.

Any other outcome of `sbatch` (a refusal, unreadable output) is final and
raised as `ExecutorError`. A marker that cannot be read (the host fails) is
retried like a queue that does not answer; one whose content is not a job id
raises `LostSubmission` (the job ran, its id is unknown: nothing is submitted
again).
"""

from __future__ import annotations

import logging
import posixpath
import re
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from ...hosts.base import CommandTimeoutError
from ...hosts.base import Host
from ...hosts.base import HostError
from ...hosts.ssh import SSHTransportError
from ..base import ExecutorError
from .failures import SlurmOutputError
from .failures import parse_sbatch

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "fractal-"
TOKEN = re.compile(r"^fractal-[0-9a-f]{32}$")
SQUEUE_TOKENS = ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%k"]
"""Every job of the host's user still known to the controller, with its comment."""


class LostSubmission(ExecutorError):
    """The answer of `sbatch` was lost and the queue could not be asked in time."""

    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


def new_token() -> str:
    """A fresh submission token (the job's `--comment`)."""
    return f"{TOKEN_PREFIX}{uuid.uuid4().hex}"


def check_token(token: str) -> str:
    """`token` if it has the shape `new_token` makes, else ExecutorError."""
    if not isinstance(token, str) or not TOKEN.match(token):
        raise ExecutorError(f"Invalid submission token={token!r}.")
    return token


def marker_path(folder: str, token: str) -> str:
    """Where the job carrying `token` records its id when it starts."""
    return posixpath.join(folder, f"{check_token(token)}.started")


def started_job(host: Host, marker: str, token: str) -> str | None:
    """The job id recorded in `marker`; None when no job wrote it.

    Raises `HostError` when the host cannot tell, `LostSubmission` when the
    marker exists but holds no job id.
    """
    try:
        if not host.is_file(marker):
            return None
        text = host.read_text(marker)
    except (OSError, UnicodeDecodeError) as exc:
        raise HostError(f"cannot read the start marker {marker}: {exc}") from exc
    job_id = text.strip()
    if not job_id.isdigit():
        raise LostSubmission(
            f"the answer of sbatch was lost, the queue does not list the job's "
            f"comment {token} and its start marker {marker} holds {text[:50]!r}, "
            "not a job id: the job ran, but cannot be watched; not submitted again",
            token,
        )
    return job_id


def outcome_unknown(exc: BaseException) -> bool:
    """True when a command's result was lost: it may have run, or not."""
    return isinstance(exc, SSHTransportError | CommandTimeoutError)


def jobs_by_token(stdout: str, tokens: Iterable[str]) -> dict[str, list[str]]:
    """`{token: [job ids]}` from `squeue --format='%i|%k'` output (pure)."""
    wanted = set(tokens)
    found: dict[str, list[str]] = {token: [] for token in wanted}
    for line in stdout.splitlines():
        job_id, sep, comment = line.strip().partition("|")
        job_id = job_id.strip()
        comment = comment.strip()
        if sep and comment in wanted and job_id.isdigit():
            found[comment].append(job_id)
    return found


def find_jobs(
    host: Host, env: Mapping[str, str], tokens: Iterable[str], timeout: float
) -> dict[str, list[str]]:
    """Ask the queue once for the jobs of `tokens`; HostError if it cannot answer."""
    result = host.run(SQUEUE_TOKENS, env=env, timeout=timeout)
    if not result.ok:
        raise HostError(
            f"squeue failed (exit {result.returncode}): {result.stderr.strip()[-500:]}"
        )
    return jobs_by_token(result.stdout, tokens)


@dataclass
class Sbatch:
    """Submit job scripts through `host`, recovering lost answers (module doc)."""

    host: Host
    env: Mapping[str, str]
    command_timeout: float
    lost_timeout: float = 300.0
    backoff: float = 1.0
    confirm_delay: float = 2.0
    on_call: Callable[[], None] = field(default=lambda: None)

    def submit(self, script: str, token: str, marker: str | None = None) -> str:
        """The job id of `script` submitted with `token` (see the module doc).

        `marker` is the script's start marker (`marker_path`), checked when the
        queue does not list the token; None: the script writes none.
        """
        first = self._try(script, token)
        if isinstance(first, str):
            return first
        found = self._look_up(token, first, marker)
        if found is not None:
            return found
        logger.warning(
            "sbatch %s: no job carries %s after a lost answer (%s); "
            "submitting again, once",
            script,
            token,
            first,
        )
        second = self._try(script, token)
        if isinstance(second, str):
            return second
        found = self._look_up(token, second, marker)
        if found is not None:
            return found
        raise ExecutorError(
            f"sbatch {script}: the answer was lost twice ({first}; then {second}) "
            f"and no job carries the comment {token}; not submitted a third time."
        )

    def _try(self, script: str, token: str) -> str | HostError:
        """One `sbatch` call: the job id, or the error that hid its outcome."""
        argv = ["sbatch", "--parsable", f"--comment={token}", script]
        self.on_call()
        try:
            result = self.host.run(argv, env=self.env, timeout=self.command_timeout)
        except HostError as exc:
            if outcome_unknown(exc):
                logger.warning("sbatch %s: answer lost (%s)", script, exc)
                return exc
            raise ExecutorError(f"sbatch failed on the host: {exc}") from exc
        if not result.ok:
            raise ExecutorError(
                f"sbatch refused {script} (exit {result.returncode}): "
                f"{result.stderr.strip()[-2000:]}"
            )
        try:
            return parse_sbatch(result.stdout)
        except SlurmOutputError as exc:
            raise ExecutorError(str(exc)) from exc

    def _look_up(self, token: str, lost: HostError, marker: str | None) -> str | None:
        """The adopted job id; None when the queue twice says there is none
        and no start marker exists."""
        deadline = time.monotonic() + self.lost_timeout
        empty_answers = 0
        retry_wait = self.backoff
        last: Exception = lost
        while True:
            try:
                found = self._ask(token, marker)
            except HostError as exc:
                last = exc
                logger.warning("Looking up %s in the queue failed: %s", token, exc)
                wait, retry_wait = retry_wait, min(retry_wait * 2, 30.0)
            else:
                if found is not None:
                    return found
                empty_answers += 1
                if empty_answers >= 2:
                    return None
                wait = self.confirm_delay
            if time.monotonic() + wait > deadline:
                raise LostSubmission(
                    f"the answer of sbatch was lost ({lost}) and the queue could "
                    f"not be asked for the job's comment {token} within "
                    f"{self.lost_timeout:g} s (last error: {last}); the job may "
                    "exist and run unobserved",
                    token,
                )
            time.sleep(wait)

    def _ask(self, token: str, marker: str | None) -> str | None:
        """The job carrying `token`: in the queue, else by its start marker."""
        jobs = find_jobs(self.host, self.env, [token], self.command_timeout)[token]
        if jobs:
            logger.warning(
                "sbatch answer lost; job %s carries %s: adopted", jobs[0], token
            )
            return jobs[0]
        if marker is None:
            return None
        job_id = started_job(self.host, marker, token)
        if job_id is not None:
            logger.warning(
                "sbatch answer lost; job %s carrying %s already started (%s) and "
                "left the queue: adopted, not submitted again",
                job_id,
                token,
                marker,
            )
        return job_id


def cancel_tokens(
    host: Host, env: Mapping[str, str], tokens: Iterable[str], timeout: float
) -> list[str]:
    """`scancel` every job carrying one of `tokens`; the ids cancelled."""
    tokens = list(tokens)
    if not tokens:
        return []
    found = find_jobs(host, env, tokens, timeout)
    ids = sorted({job for jobs in found.values() for job in jobs}, key=int)
    if ids:
        result = host.run(["scancel", *ids], env=env, timeout=timeout)
        if not result.ok:
            logger.warning("scancel %s: %s", ids, result.stderr.strip())
    return ids
