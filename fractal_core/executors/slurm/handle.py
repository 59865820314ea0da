"""`SlurmHandle`: one submission's units, judged from what the cluster left.

Units are judged as their exit files appear (one `grep` of the status folder
per poll round for a handle with running jobs) and, for units killed with
their job, from the job's final state and error file (`failures.py`). Outputs
and logs of units that ended come back from the host in one transfer per
folder (`transfer.py`) before they are judged. `cancel()` runs one `scancel`
for all the handle's jobs, plus the jobs found by their submission token
whose id is unknown (sbatch under way, or its answer lost: `submission.py`);
`snapshot()` is JSON (see `attach.py`).
"""

from __future__ import annotations

import logging
import posixpath
import threading
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from ...hosts.base import Host
from ...hosts.base import HostError
from .._board import ResultBoard
from .._board import utc_now
from .._unit import failed
from .._unit import judge_exit
from .._unit import read_log_excerpt
from .._unit import timed_out
from .._unit import with_times
from ..base import FailureKind
from ..base import UnitResult
from ..base import UnitState
from ..base import WorkUnit
from .failures import JobFinal
from .failures import SlurmOutputError
from .failures import classify_unit
from .failures import parse_record
from .submission import cancel_tokens
from .transfer import fetch_unit_files
from .watcher import SlurmWatcher
from .worker import parse_status_listing

logger = logging.getLogger(__name__)

EXECUTOR_KIND = "slurm"
COMMAND_TIMEOUT = 120.0
"""Seconds any single SLURM or file command may take before it counts as hung."""
END_RETRIES = 5
"""Watcher rounds an ended job is retried when its records cannot be read."""


def _epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class SlurmHandle(ResultBoard):
    """One submission's units, judged from the cluster (see module doc)."""

    executor_kind = EXECUTOR_KIND

    def __init__(
        self,
        units: Sequence[WorkUnit],
        *,
        host: Host,
        slurm_env: Mapping[str, str],
        watcher: SlurmWatcher,
        submission_dir: str,
        handle_id: str | None = None,
    ) -> None:
        super().__init__(units, handle_id)
        self._host = host
        self._slurm_env = dict(slurm_env)
        self._watcher = watcher
        self.submission_dir = submission_dir
        self.status_dir = posixpath.join(submission_dir, "status")
        self._jobs: dict[str, list[int]] = {}
        self._job_err: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._lost: dict[str, list[int]] = {}
        self._limits: dict[int, float | None] = {}
        self._cancelled = False
        self._io = threading.Lock()
        self._odd_outputs: dict[str, str] = {}
        self._end_failures: dict[str, int] = {}
        self._list_error = ""
        self.submit_errors: list[str] = []

    # -- bookkeeping (submission and attach) -------------------------------------

    def _add_job(
        self, job_id: str, indices: list[int], err_file: str, token: str | None = None
    ) -> None:
        with self._cond:
            self._jobs[job_id] = list(indices)
            self._job_err[job_id] = err_file
            if token is not None:
                self._tokens[job_id] = token
            for index in indices:
                self._native[index] = job_id
                self._extra.setdefault(index, {})["slurm_job_id"] = job_id

    def _set_limit(self, index: int, limit: float | None) -> None:
        self._limits[index] = limit
        self._extra.setdefault(index, {})["time_limit_s"] = limit

    def _finish(self, index: int, result: UnitResult) -> None:
        with self._cond:
            recorded = self._set_done(index, result)
            all_done = self._all_done()
        if recorded and all_done:
            self._watcher.forget(list(self._jobs))

    def live_jobs(self) -> list[str]:
        """Job ids that still hold a unit without a result."""
        with self._cond:
            return [
                job_id
                for job_id, indices in self._jobs.items()
                if any(self._state[i] is not UnitState.DONE for i in indices)
            ]

    # -- reading the cluster -------------------------------------------------------

    def _listing(self) -> dict[int, dict[str, str]] | None:
        """Start and exit records of this submission's units (one command)."""
        try:
            result = self._host.run(
                ["grep", "-r", "-H", "-s", "", self.status_dir],
                timeout=COMMAND_TIMEOUT,
            )
        except HostError as exc:
            logger.warning("Cannot list %s: %s", self.status_dir, exc)
            self._list_error = str(exc)
            return None
        if result.returncode not in (0, 1):  # 1: no line at all (no file yet)
            self._list_error = result.stderr.strip()[-500:]
            logger.warning("Cannot list %s: %s", self.status_dir, self._list_error)
            return None
        return parse_status_listing(result.stdout)

    def refresh(self) -> None:
        """Mark started units RUNNING and judge units that wrote an exit status."""
        with self._io:
            listing = self._listing()
            if listing is None:
                return
            try:
                self._apply(listing, None, "")
            except HostError as exc:  # judged at a later round
                logger.warning("Handle %s: %s", self.id, exc)

    def _apply(
        self,
        listing: Mapping[int, Mapping[str, str]],
        final: JobFinal | None,
        err_text: str,
        indices: Sequence[int] | None = None,
    ) -> None:
        """Judge units (all, or `indices` of an ended job) from their records."""
        todo = range(len(self._units)) if indices is None else indices
        ready: list[int] = []
        for index in todo:
            with self._cond:
                if self._state[index] is UnitState.DONE:
                    continue
            files = listing.get(index, {})
            if final is None and "rc" not in files:
                if "start" in files:
                    with self._cond:
                        if self._state[index] is UnitState.PENDING:
                            self._state[index] = UnitState.RUNNING
                continue
            ready.append(index)
        self._fetch([self._units[i] for i in ready if "start" in listing.get(i, {})])
        # Judged only once their files are here: a transport error leaves them open.
        for index in ready:
            files = listing.get(index, {})
            self._finish(index, self._judge(index, files, final, err_text))

    def _judge(
        self,
        index: int,
        files: Mapping[str, str],
        final: JobFinal | None,
        err_text: str,
    ) -> UnitResult:
        unit = self._units[index]
        limit = self._limits.get(index)
        job_id = self._native.get(index)
        try:
            record = parse_record(
                files.get("start"), files.get("rc"), time_limit_s=limit
            )
        except SlurmOutputError as exc:
            return failed(unit, FailureKind.EXECUTOR_ERROR, str(exc), native_id=job_id)
        verdict = classify_unit(
            unit.id,
            record,
            final,
            err_text,
            time_limit_s=limit,
            cancelled_by_us=self._cancelled,
            err_file=self._job_err.get(job_id or ""),
        )
        started = _epoch(record.started_at)
        ended = _epoch(record.ended_at) or (utc_now() if record.started else None)
        odd = self._odd_outputs.get(unit.output_file_remote or "")
        if verdict.ok and odd is not None:
            result = failed(
                unit,
                FailureKind.INVALID_OUTPUT,
                f"Cannot read output file {unit.output_file_remote} on the host: "
                f"it is {odd}, not a regular file.",
                returncode=0,
                log=read_log_excerpt(unit.log_file).tail,
            )
        elif verdict.ok:
            result = judge_exit(unit, 0)
        elif verdict.kind is FailureKind.NONZERO_EXIT:
            result = judge_exit(unit, verdict.returncode or 1)
        elif verdict.kind is FailureKind.TIME_LIMIT and record.timed_out:
            assert limit is not None
            result = timed_out(unit, limit, record.returncode)
        else:
            assert verdict.kind is not None
            result = failed(
                unit,
                verdict.kind,
                verdict.message,
                returncode=verdict.returncode,
                log=read_log_excerpt(unit.log_file).tail if record.started else "",
            )
        return with_times(result, started, ended, job_id)

    def _fetch(self, units: Sequence[WorkUnit], *, outputs: bool = True) -> None:
        """Copy outputs and logs back, in bulk, when the host sees other paths.

        Raises `HostError` when the host cannot be read.
        """
        if units:
            odd = fetch_unit_files(self._host, units, outputs=outputs)
            self._odd_outputs.update(odd)

    # -- watcher callbacks -------------------------------------------------------

    def jobs_polled(self, states: Mapping[str, str]) -> None:
        """Refresh when one of our jobs runs (units may have finished)."""
        if any(s in ("RUNNING", "COMPLETING", "SUSPENDED") for s in states.values()):
            self.refresh()

    def job_ended(self, final: JobFinal) -> None:
        """Judge the units of a job that left the queue."""
        indices = self._jobs.get(final.job_id)
        if indices is None:
            return
        err_text = self._read_err(final.job_id)
        with self._io:
            try:
                listing = self._listing()
                if listing is None:
                    raise HostError(
                        f"cannot list {self.status_dir} on the host: "
                        f"{self._list_error or 'unexpected output'}"
                    )
                self._apply(listing, final, err_text, indices)
            except HostError as exc:
                self._end_later(final, indices, exc)

    def _read_err(self, job_id: str) -> str:
        """The job's SLURM error file ("" when missing or unreadable)."""
        err_file = self._job_err.get(job_id)
        if err_file:
            try:
                if self._host.is_file(err_file):
                    return self._host.read_text(err_file)
            except (HostError, OSError, UnicodeDecodeError) as exc:
                logger.warning("Cannot read %s: %s", err_file, exc)
        return ""

    def _end_later(
        self, final: JobFinal, indices: Sequence[int], exc: Exception
    ) -> None:
        """The host could not be read: retry at the next round, or give up."""
        count = self._end_failures.get(final.job_id, 0) + 1
        self._end_failures[final.job_id] = count
        if count < END_RETRIES:
            logger.warning(
                "SLURM job %s ended but its units cannot be read yet (%s); "
                "retrying at the next round",
                final.job_id,
                exc,
            )
            self._watcher.watch([final.job_id], self)
            return
        for index in indices:
            with self._cond:
                if self._state[index] is UnitState.DONE:
                    continue
            unit = self._units[index]
            message = (
                f"SLURM job {final.job_id} ended ({final.state}) but the records "
                f"of unit {unit.id} could not be read back through the host "
                f"after {count} attempts: {exc}"
            )
            self._finish(
                index,
                failed(
                    unit,
                    FailureKind.EXECUTOR_ERROR,
                    message,
                    native_id=final.job_id,
                ),
            )

    # -- the Handle protocol -----------------------------------------------------

    def states(self) -> dict[str, UnitState]:
        """Current state of every unit (asks the cluster once if any is open)."""
        if not self.done():
            self.refresh()
        return super().states()

    @property
    def cancelled(self) -> bool:
        """True once `cancel()` was called."""
        return self._cancelled

    @property
    def lost_tokens(self) -> dict[str, list[int]]:
        """Submission tokens whose job id is unknown, with their units."""
        with self._cond:
            return {token: list(units) for token, units in self._lost.items()}

    def scancel(self, jobs: Sequence[str]) -> None:
        """One `scancel` for `jobs` (failures are logged: the watcher goes on)."""
        if not jobs:
            return
        try:
            result = self._host.run(
                ["scancel", *jobs], env=self._slurm_env, timeout=COMMAND_TIMEOUT
            )
            if not result.ok:
                logger.warning("scancel %s: %s", jobs, result.stderr.strip())
        except HostError as exc:
            logger.warning("scancel %s failed: %s", jobs, exc)

    def _cancel_lost(self) -> None:
        """`scancel` the jobs of submission tokens whose job id is unknown."""
        tokens = list(self.lost_tokens)
        if not tokens:
            return
        try:
            ids = cancel_tokens(self._host, self._slurm_env, tokens, COMMAND_TIMEOUT)
        except HostError as exc:
            logger.warning("Cannot cancel the jobs of %s: %s", tokens, exc)
            return
        logger.info("Cancelled jobs %s found by their submission tokens", ids)

    def cancel(self) -> None:
        """`scancel` every job with open units (one call); they end CANCELLED."""
        with self._cond:
            all_done = self._all_done()
            if not all_done:
                self._cancelled = True
        self._cancel_lost()  # also when every unit already failed: they may run
        if all_done:
            return
        self.scancel(self.live_jobs())
        with self._io:
            listing = self._listing() or {}
            try:
                self._apply(listing, None, "")
            except HostError as exc:
                logger.warning("Handle %s: %s", self.id, exc)
            with self._cond:
                open_started = [
                    u
                    for i, u in enumerate(self._units)
                    if self._state[i] is not UnitState.DONE
                    and "start" in listing.get(i, {})
                ]
            try:
                self._fetch(open_started, outputs=False)
            except HostError as exc:
                logger.warning("Cannot fetch the logs of cancelled units: %s", exc)
            for index in range(len(self._units)):
                with self._cond:
                    if self._state[index] is UnitState.DONE:
                        continue
                unit = self._units[index]
                files = listing.get(index, {})
                record = parse_record(files.get("start"), None, time_limit_s=None)
                when = "while running" if record.started else "before it started"
                self._finish(
                    index,
                    failed(
                        unit,
                        FailureKind.CANCELLED,
                        f"Unit {unit.id} was cancelled {when}.",
                        started_at=_epoch(record.started_at),
                        ended_at=utc_now() if record.started else None,
                        native_id=self._native.get(index),
                        log=read_log_excerpt(unit.log_file).tail
                        if record.started
                        else "",
                    ),
                )

    def snapshot(self) -> dict[str, Any]:
        """JSON state: units, their SLURM job ids and where their records are."""
        state = super().snapshot()
        with self._cond:
            state["slurm"] = {
                "submission_dir": self.submission_dir,
                "status_dir": self.status_dir,
                "cancelled": self._cancelled,
                "jobs": {
                    job_id: {
                        "units": list(indices),
                        "err": self._job_err[job_id],
                        "token": self._tokens.get(job_id),
                    }
                    for job_id, indices in self._jobs.items()
                },
                "lost_tokens": {t: list(u) for t, u in self._lost.items()},
            }
        return state
