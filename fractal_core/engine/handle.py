"""`submit_job`: start a job in a background thread and get a handle at once.

The handle is what a notebook or a web request holds: the job's id and status,
per-task progress, `wait(timeout)`, `result()`, `cancel()` from any thread, and
the job's events as callbacks or as an iterator. The job itself runs exactly
as `run_job` runs it, in a thread of its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Hashable
from collections.abc import Iterator
from typing import Any

from ..views import html as views_html
from ..views import text as views_text
from .control import EventKind
from .control import JobEvent
from .control import Listener
from .control import TaskProgress
from .job import JobOutcome
from .job import PreparedJob
from .job import claim_dataset
from .job import prepare_job
from .job import release_dataset
from .recorder import JobStatus

__all__ = ["JobHandle", "submit_job"]

logger = logging.getLogger(__name__)

# Seconds `wait`/`result` give a job cancelled by Ctrl-C to end before they
# re-raise (units get SIGTERM then SIGKILL; a second Ctrl-C cuts this short).
INTERRUPT_GRACE = 30.0


class JobHandle:
    """A job running in the background; every method is safe from any thread."""

    def __init__(self, prepared: PreparedJob) -> None:
        self._prepared = prepared
        self._control = prepared.control
        self._done = threading.Event()
        self._outcome: JobOutcome | None = None
        self._crash: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"fractal-job-{prepared.job_id}", daemon=False
        )

    def _start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = self._prepared.run(claimed=True)
        except BaseException as exc:  # the job records itself; keep it for result()
            logger.exception("Job %s ended with an exception", self.id)
            self._crash = exc
        finally:
            self._done.set()

    # -- what it is ------------------------------------------------------------

    @property
    def id(self) -> Hashable:
        return self._prepared.job_id

    @property
    def working_dir(self) -> Any:
        return self._prepared.working_dir

    @property
    def status(self) -> JobStatus:
        """`submitted` while running, then `done` or `failed`."""
        if self._outcome is not None:
            return self._outcome.status
        if self._done.is_set():
            return JobStatus.FAILED
        return JobStatus.SUBMITTED

    def progress(self) -> list[TaskProgress]:
        """Per-task units and images done/failed/total, in the order tasks started."""
        return self._control.progress()

    # -- waiting ---------------------------------------------------------------

    def done(self) -> bool:
        return self._done.is_set()

    def wait(
        self, timeout: float | None = None, *, cancel_on_interrupt: bool = True
    ) -> bool:
        """Block until the job ended or `timeout` seconds passed; return `done()`.

        Ctrl-C while waiting cancels the job (as it does for `run_job`), waits
        up to `INTERRUPT_GRACE` seconds for it to end, then re-raises; pass
        `cancel_on_interrupt=False` to only stop waiting.
        """
        try:
            return self._done.wait(timeout)
        except KeyboardInterrupt:
            if cancel_on_interrupt:
                self.cancel("interrupted (KeyboardInterrupt)")
                self._done.wait(INTERRUPT_GRACE)
            raise

    def result(
        self, timeout: float | None = None, *, cancel_on_interrupt: bool = True
    ) -> JobOutcome:
        """The outcome, waiting up to `timeout`; TimeoutError if still running.

        Ctrl-C while waiting behaves as in `wait`.
        """
        if not self.wait(timeout, cancel_on_interrupt=cancel_on_interrupt):
            raise TimeoutError(f"Job {self.id} still running after {timeout} s.")
        if self._outcome is None:
            raise RuntimeError(f"Job {self.id} crashed.") from self._crash
        return self._outcome

    # -- control -----------------------------------------------------------------

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Stop the job: running units killed, job recorded `failed` with `reason`.

        Returns at once (False if the job had ended or was already cancelled);
        `wait()` for the final state.
        """
        if self._done.is_set():
            return False
        return self._control.cancel(reason)

    def add_callback(self, listener: Listener) -> None:
        """Call `listener(event)` for every later event, in the job's thread."""
        self._control.add_listener(listener)

    def events(self, timeout: float | None = None) -> Iterator[JobEvent]:
        """Iterate over the job's events from now on, until it ends.

        `timeout` bounds the wait for each next event (TimeoutError after it).
        """
        pending: queue.Queue[JobEvent] = queue.Queue()
        self._control.add_listener(pending.put)
        try:
            while True:
                if self._done.is_set() and pending.empty():
                    return
                try:
                    event = pending.get(timeout=0.1 if timeout is None else timeout)
                except queue.Empty:
                    if timeout is not None and not self._done.is_set():
                        raise TimeoutError(
                            f"No event from job {self.id} within {timeout} s."
                        ) from None
                    continue
                yield event
                if event.kind is EventKind.JOB_ENDED:
                    return
        finally:
            self._control.remove_listener(pending.put)

    def __repr__(self) -> str:
        return views_text.job_handle_repr(self)

    def _repr_html_(self) -> str:
        return views_html.job_html(self)


def submit_job(**kwargs: Any) -> JobHandle:
    """Check a job as `run_job` does, start it in a thread, return its handle.

    Takes the arguments of `run_job` (including `timeout` and `on_event`).
    Everything that can be refused is refused here, before the thread starts.
    """
    prepared = prepare_job(**kwargs)
    claim_dataset(prepared.dataset, prepared.job_id)
    handle = JobHandle(prepared)
    try:
        handle._start()
    except BaseException:
        release_dataset(prepared.dataset)
        raise
    return handle
