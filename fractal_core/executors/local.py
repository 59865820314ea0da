"""`LocalExecutor`: every unit is a real subprocess on this machine.

Each unit runs `shlex.split(command) + ["--args-json", A, "--out-json", O]` with no
shell, stdout and stderr both into its log file, environment `os.environ` plus
the executor's `env` plus `unit.env`, in its own process group so that
cancellation reaches its children.

Concurrency has two bounds: `max_workers` for the whole executor (like the
reference's thread pool) and, per submission, the units' `parallel_tasks_per_job`.
By default at most that many units of a submission run at any moment and a new
one starts as soon as one finishes; `chunk_barrier=True` reproduces the reference
exactly (chunks of that size, the next chunk starting when the whole previous one
is over). Unlike the reference, `cancel()` also stops running processes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._attach import AttachedHandle
from ._board import ResultBoard
from ._board import executor_errors
from ._limits import check_unique_ids
from ._limits import submission_limit
from ._process import ExecutorContext
from ._process import ProcessStarter
from ._process import RunningUnit
from ._unit import ExecutableCheck
from ._unit import cancelled
from ._unit import failed
from ._unit import local_executable_check
from .base import ExecutorCapabilities
from .base import ExecutorError
from .base import FailureKind
from .base import UnitResult
from .base import UnitState
from .base import WorkUnit

logger = logging.getLogger(__name__)

DEFAULT_CANCEL_GRACE = 5.0


def default_max_workers() -> int:
    """The reference's pool size: Python's `ThreadPoolExecutor` default."""
    return min(32, (os.cpu_count() or 1) + 4)


class LocalHandle(ResultBoard):
    """One submission to a `LocalExecutor`; thread-safe, see `base.Handle`."""

    executor_kind = "local"

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        units: Sequence[WorkUnit],
        *,
        limit: int | None,
        chunk_barrier: bool,
        cancel_grace: float,
        env: Mapping[str, str],
        executable_check: ExecutableCheck = local_executable_check,
        workers: int | None = None,
    ) -> None:
        super().__init__(units)
        self._pool = pool
        self._limit = limit if limit is not None else max(len(self._units), 1)
        # Units handed to the pool at once: no more than it can run (plus one
        # each to start without a gap), so 100,000 units never sit in its queue.
        self._queue_limit = self._limit if workers is None else 2 * workers
        self._chunk_barrier = chunk_barrier
        self._cancel_grace = cancel_grace
        self._running: dict[int, RunningUnit] = {}
        self._next = 0
        self._in_flight = 0
        self._cancelled = False
        self._starter = ProcessStarter(env, executable_check=executable_check)

    # -- scheduling -----------------------------------------------------------

    def _start(self) -> None:
        with self._cond:
            self._pump()

    def _pump(self) -> None:
        """Hand as many units to the pool as the submission limit allows (locked)."""
        if self._cancelled:
            return
        remaining = len(self._units) - self._next
        if self._chunk_barrier:
            count = min(self._limit, remaining) if self._in_flight == 0 else 0
        else:
            window = min(self._limit, self._queue_limit)
            count = min(window - self._in_flight, remaining)
        for _ in range(count):
            index = self._next
            try:
                self._pool.submit(self._run, index)
            except RuntimeError as exc:  # pool shut down (e.g. interpreter exit)
                self._fail_unscheduled(f"Executor error: cannot schedule unit: {exc}")
                return
            self._next += 1
            self._in_flight += 1

    def _fail_unscheduled(self, message: str) -> None:
        """Give every unit not yet handed to the pool an EXECUTOR_ERROR (locked)."""
        for index in range(self._next, len(self._units)):
            self._set_done(
                index,
                failed(self._units[index], FailureKind.EXECUTOR_ERROR, message),
            )
        self._next = len(self._units)

    def _finish(self, index: int, result: UnitResult) -> None:
        with self._cond:
            self._running.pop(index, None)
            self._set_done(index, result)
            # Kept on the result now (native id, times): nothing else per unit
            # stays once a unit is done, so 100,000 units do not pile up here.
            self._extra.pop(index, None)
            self._native.pop(index, None)
            self._in_flight -= 1
            self._pump()

    # -- one unit (runs in a pool thread) ---------------------------------------

    def _run(self, index: int) -> None:
        unit = self._units[index]
        with self._cond:
            if self._state[index] is UnitState.DONE:  # cancelled while queued
                self._in_flight -= 1
                return
            self._state[index] = UnitState.RUNNING
        try:
            result = self._run_process(index, unit)
        except Exception as exc:  # never leave a unit without a result
            logger.exception("Unexpected error running unit %s", unit.id)
            result = failed(
                unit, FailureKind.EXECUTOR_ERROR, f"Executor error: {exc!r}"
            )
        self._finish(index, result)

    def _run_process(self, index: int, unit: WorkUnit) -> UnitResult:
        proc = self._starter.start(unit)
        if isinstance(proc, UnitResult):
            return proc
        running = RunningUnit(unit, proc, self._cancel_grace)
        with self._cond:
            self._running[index] = running
            self._native[index] = running.native_id
            self._extra[index] = {
                "pid_start_time": running.session.start_time,
                "started_at": running.started_at.isoformat(),
            }
            cancel_now = self._cancelled
        if cancel_now:  # cancel() ran while the process was being created
            running.stop(FailureKind.CANCELLED)
        return running.finish()

    # -- cancellation -------------------------------------------------------------

    def cancel(self) -> None:
        """Mark queued units CANCELLED and terminate the running process trees."""
        with self._cond:
            if self._cancelled:
                return
            self._cancelled = True
            for index, state in enumerate(self._state):
                if state is UnitState.PENDING:
                    self._set_done(index, cancelled(self._units[index]))
            running = list(self._running.values())
        logger.info("Cancelling submission: %d running units terminated", len(running))
        for unit in running:
            unit.stop(FailureKind.CANCELLED)


class LocalExecutor(ExecutorContext):
    """Runs units as subprocesses on a thread pool of `max_workers` threads.

    `max_workers=None` uses Python's pool default, like the reference; the
    effective concurrency of a submission is min(parallel_tasks_per_job, max_workers).
    `cancel_grace` is how long cancelled processes get between SIGTERM and SIGKILL.
    `env` is added to every unit's environment (under `unit.env`), e.g.
    `{"FRACTAL_CACHE_DIR": ...}`.
    Use as a context manager: leaving the block waits for all units, or cancels
    them when an exception escapes.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        chunk_barrier: bool = False,
        cancel_grace: float = DEFAULT_CANCEL_GRACE,
        env: Mapping[str, str] | None = None,
        executable_check: ExecutableCheck = local_executable_check,
    ) -> None:
        if max_workers is not None and (
            isinstance(max_workers, bool)
            or not isinstance(max_workers, int)
            or max_workers < 1
        ):
            raise ExecutorError(
                f"max_workers={max_workers!r} must be a positive integer or None."
            )
        if cancel_grace < 0:
            raise ExecutorError(f"cancel_grace={cancel_grace!r} must not be negative.")
        self.max_workers = max_workers or default_max_workers()
        self.chunk_barrier = chunk_barrier
        self.cancel_grace = cancel_grace
        self.env = dict(env or {})
        self.executable_check = executable_check
        self._last: LocalHandle | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=self.max_workers, thread_name_prefix="fractal-unit"
        )
        self._lock = threading.Lock()
        self._handles: list[LocalHandle] = []
        self._closed = False

    def submit(self, units: Sequence[WorkUnit]) -> LocalHandle:
        """Start `units` (ids unique); returns at once with a handle."""
        check_unique_ids(units)
        limit = submission_limit(units)
        if limit is not None and limit > self.max_workers:
            logger.info(
                "parallel_tasks_per_job=%d exceeds max_workers=%d: at most %d "
                "units will run at once",
                limit,
                self.max_workers,
                self.max_workers,
            )
        with self._lock:
            if self._closed:
                raise ExecutorError("LocalExecutor is shut down: submission refused.")
            handle = LocalHandle(
                self._pool,
                units,
                limit=limit,
                chunk_barrier=self.chunk_barrier,
                cancel_grace=self.cancel_grace,
                env=self.env,
                executable_check=self.executable_check,
                workers=self.max_workers,
            )
            self._last = handle
            self._handles = [h for h in self._handles if not h.done()]
            self._handles.append(handle)
        logger.debug("Submitted %d units (limit %s)", len(units), limit)
        handle._start()
        return handle

    capabilities = ExecutorCapabilities()

    @property
    def executor_error_log(self) -> str | None:
        """Executor-side errors of the last submission (units it could not schedule).

        Task failures are on each unit's result, not here; None when all is well.
        """
        with self._lock:
            return executor_errors(self._last)

    def attach(
        self, state: Mapping[str, Any], *, poll_interval: float = 0.1
    ) -> AttachedHandle:
        """Pick up a submission of a process that is gone (see `_attach`).

        Units whose recorded process still runs are waited for by polling and
        judged by their output file; units whose process is gone are judged by
        their output file, or fail with `EXECUTOR_ERROR` "process lost after a
        restart" when there is none. Recorded final results are kept.
        """
        with self._lock:
            if self._closed:
                raise ExecutorError("LocalExecutor is shut down: attach refused.")
        return AttachedHandle.from_snapshot(
            state,
            executor_kind="local",
            grace=self.cancel_grace,
            poll_interval=poll_interval,
        )

    def shutdown(self, *, cancel: bool = False) -> None:
        """Refuse new submissions, optionally cancel, wait for every unit, release."""
        with self._lock:
            self._closed = True
            handles = list(self._handles)
            self._handles.clear()
        if cancel:
            for handle in handles:
                handle.cancel()
        for handle in handles:
            handle.wait()
        self._pool.shutdown(wait=True)
