"""What a running job shares with whoever watches it: cancellation and progress.

A `JobControl` travels with one job through the engine. Any thread may call
`cancel(reason)`: the executor batch being waited on is cancelled at once (its
processes killed) and the engine stops at the next check. A time limit is a
timer that cancels with a timeout reason. Progress is kept per workflow task
(units and images done, failed, total) and every change is published as a
`JobEvent` to the listeners, never letting a faulty listener break the job.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol

from .errors import JobCancelledError
from .errors import JobTimeoutError

__all__ = [
    "PROGRESS_LOGGER",
    "EventKind",
    "JobControl",
    "JobEvent",
    "TaskProgress",
]

logger = logging.getLogger(__name__)

PROGRESS_LOGGER = "fractal_core.engine.job"
"""Where the engine reports job and task progress at INFO for the application."""


class EventKind(enum.StrEnum):
    """What a `JobEvent` reports."""

    JOB_STARTED = "job_started"
    TASK_STARTED = "task_started"
    TASK_PROGRESS = "task_progress"
    TASK_ENDED = "task_ended"
    CANCEL_REQUESTED = "cancel_requested"
    JOB_ENDED = "job_ended"


@dataclass(frozen=True)
class TaskProgress:
    """Units and images of one workflow task: done, failed, total."""

    key: Hashable
    name: str
    order: int | None
    status: str = "pending"  # pending, running, done, failed
    units_total: int = 0
    units_done: int = 0
    units_failed: int = 0
    images_total: int = 0
    images_done: int = 0
    images_failed: int = 0

    @property
    def units_finished(self) -> int:
        return self.units_done + self.units_failed


@dataclass(frozen=True)
class JobEvent:
    """One change in a job's life, as seen by listeners."""

    kind: EventKind
    job_id: Hashable
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    task: TaskProgress | None = None
    status: str | None = None
    message: str | None = None


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


Listener = Callable[[JobEvent], None]


class JobControl:
    """Cancellation, time limit and progress of one job; thread-safe."""

    def __init__(
        self,
        job_id: Hashable,
        *,
        timeout: float | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError(
                f"timeout={timeout!r} must be a positive number of seconds."
            )
        self.job_id = job_id
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._reason: str | None = None
        self._timed_out = False
        self._batches: list[_Cancellable] = []
        self._listeners: list[Listener] = list(listeners)
        self._progress: dict[Hashable, TaskProgress] = {}
        self._timer: threading.Timer | None = None

    # -- time limit -----------------------------------------------------------

    def start_clock(self) -> None:
        """Start the job's time limit (if any); called once the job runs."""
        if self.timeout is None or self._timer is not None:
            return
        self._timer = threading.Timer(self.timeout, self._time_out)
        self._timer.daemon = True
        self._timer.name = f"fractal-job-timeout-{self.job_id}"
        self._timer.start()

    def stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _time_out(self) -> None:
        with self._lock:
            self._timed_out = not self._cancelled.is_set()
        self.cancel(f"the job's time limit of {self.timeout} seconds was exceeded")

    # -- cancellation -----------------------------------------------------------

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Ask the job to stop; kill its running units. False if already asked."""
        with self._lock:
            if self._cancelled.is_set():
                return False
            self._reason = reason
            self._cancelled.set()
            batches = list(self._batches)
        self.emit(JobEvent(EventKind.CANCEL_REQUESTED, self.job_id, message=reason))
        for batch in batches:
            _cancel_quietly(batch)
        return True

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def reason(self) -> str | None:
        return self._reason

    def check(self) -> None:
        """Raise `JobCancelledError` (or `JobTimeoutError`) once cancelled."""
        if self._cancelled.is_set():
            raise self.error()

    def error(self) -> JobCancelledError:
        reason = self._reason or "cancelled"
        if self._timed_out:
            return JobTimeoutError(reason)
        return JobCancelledError(reason)

    def watch(self, batch: _Cancellable) -> None:
        """Cancel `batch` when the job is cancelled (at once if it already is)."""
        with self._lock:
            self._batches.append(batch)
            cancel_now = self._cancelled.is_set()
        if cancel_now:
            _cancel_quietly(batch)

    def unwatch(self, batch: _Cancellable) -> None:
        with self._lock:
            if batch in self._batches:
                self._batches.remove(batch)

    # -- progress and events ------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def emit(self, event: JobEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("A job event listener failed (event %s)", event.kind)

    def progress(self) -> list[TaskProgress]:
        """Per-task progress so far, in the order the tasks started."""
        with self._lock:
            return list(self._progress.values())

    def task_started(self, progress: TaskProgress) -> None:
        progress = replace(progress, status="running")
        with self._lock:
            self._progress[progress.key] = progress
        self.emit(JobEvent(EventKind.TASK_STARTED, self.job_id, task=progress))

    def update_task(self, key: Hashable, **changes: Any) -> TaskProgress:
        """Change some counters of a task and publish the new state."""
        with self._lock:
            progress = replace(self._progress[key], **changes)
            self._progress[key] = progress
        self.emit(JobEvent(EventKind.TASK_PROGRESS, self.job_id, task=progress))
        return progress

    def units_submitted(
        self, key: Hashable, *, num_units: int, num_images: int
    ) -> None:
        """Count a submitted batch of units (and their images) in the totals."""
        with self._lock:
            current = self._progress.get(key)
            if current is None:
                return
            progress = replace(
                current,
                units_total=current.units_total + num_units,
                images_total=current.images_total + num_images,
            )
            self._progress[key] = progress
        self.emit(JobEvent(EventKind.TASK_PROGRESS, self.job_id, task=progress))

    def unit_finished(self, key: Hashable, *, ok: bool, num_images: int) -> None:
        """Count one finished unit (and its images) as done or failed."""
        with self._lock:
            current = self._progress.get(key)
            if current is None:
                return
            if ok:
                progress = replace(
                    current,
                    units_done=current.units_done + 1,
                    images_done=current.images_done + num_images,
                )
            else:
                progress = replace(
                    current,
                    units_failed=current.units_failed + 1,
                    images_failed=current.images_failed + num_images,
                )
            self._progress[key] = progress
        self.emit(JobEvent(EventKind.TASK_PROGRESS, self.job_id, task=progress))

    def task_ended(self, key: Hashable, status: str) -> None:
        with self._lock:
            current = self._progress.get(key)
            if current is None:
                return
            progress = replace(current, status=status)
            self._progress[key] = progress
        self.emit(
            JobEvent(EventKind.TASK_ENDED, self.job_id, task=progress, status=status)
        )


def _cancel_quietly(batch: _Cancellable) -> None:
    try:
        batch.cancel()
    except Exception:
        logger.exception("Cancelling an executor batch failed")
