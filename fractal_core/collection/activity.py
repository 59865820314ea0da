"""Activity bookkeeping: status transitions, timestamps and a log that grows live.

Every collection / lifecycle operation owns one `TaskGroupActivity` and an
`ActivityLog` around it. Each appended line updates `activity.log` at once (under
a lock), so another thread reading the activity sees the log grow while the
operation runs; `on_change` lets a caller persist the activity after each change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivity
from ..domain.task_group import TaskGroupActivityAction
from ..domain.task_group import TaskGroupActivityStatus

logger = logging.getLogger(__name__)

ActivityListener = Callable[[TaskGroupActivity], None]
"""Called after every change of an activity (status, log line, end)."""

IN_FLIGHT = (TaskGroupActivityStatus.PENDING, TaskGroupActivityStatus.ONGOING)


def _now() -> datetime:
    return datetime.now(tz=UTC)


class ActivityLog:
    """Thread-safe writer of one activity's status and log."""

    def __init__(
        self, activity: TaskGroupActivity, on_change: ActivityListener | None = None
    ):
        self.activity = activity
        self._on_change = on_change
        self._lock = threading.Lock()
        self._parts: list[str] = [activity.log] if activity.log else []
        self._notify()

    @classmethod
    def start(
        cls,
        action: TaskGroupActivityAction,
        pkg_name: str,
        version: str | None,
        *,
        user_id: int | None = None,
        taskgroupv2_id: int | None = None,
        on_change: ActivityListener | None = None,
    ) -> ActivityLog:
        """Create a `pending` activity and its log."""
        activity = TaskGroupActivity(
            action=action,
            status=TaskGroupActivityStatus.PENDING,
            pkg_name=pkg_name,
            version=version or "N/A",
            user_id=user_id,
            taskgroupv2_id=taskgroupv2_id,
            timestamp_started=_now(),
        )
        return cls(activity, on_change)

    @classmethod
    def for_group(
        cls,
        action: TaskGroupActivityAction,
        group: TaskGroup,
        on_change: ActivityListener | None = None,
    ) -> ActivityLog:
        """`start` an operation on `group`: its package, version, owner and id."""
        return cls.start(
            action,
            group.pkg_name,
            group.version,
            user_id=group.user_id,
            taskgroupv2_id=group.id,
            on_change=on_change,
        )

    def _notify(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change(self.activity)
            except Exception:  # a listener must not break the operation
                logger.exception("Activity listener failed")

    def write(self, message: str, level: int = logging.INFO) -> None:
        """Append one timestamped message (may span several lines)."""
        stamp = _now().strftime("%Y-%m-%d %H:%M:%S")
        name = logging.getLevelName(level)
        self._append(f"{stamp} - {name} - {message}\n")
        logger.log(level, "[activity %s] %s", self.activity.action, message)

    def output(self, line: str) -> None:
        """Append one raw line printed by a command (streamed while it runs)."""
        self._append(line + "\n")

    def _append(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)
            self.activity.log = "".join(self._parts)
        self._notify()

    def text(self) -> str:
        """The log so far."""
        with self._lock:
            return "".join(self._parts)

    def ongoing(self) -> None:
        """pending → ongoing."""
        with self._lock:
            self.activity.mark_ongoing()
        self._notify()

    def succeed(self) -> None:
        """→ OK, with the end timestamp."""
        self._finish(ok=True)

    def fail(self, error: BaseException | str) -> None:
        """→ failed, with the error in the log and the end timestamp."""
        message = (
            error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        )
        self.write(f"Operation failed. Original error: {message}", logging.ERROR)
        self._finish(ok=False)

    def interrupted(self, error: BaseException) -> None:
        """→ failed, saying the operation was interrupted (Ctrl-C, exit, cancel)."""
        detail = f": {error}" if str(error) else ""
        self.write(
            f"Operation interrupted by {type(error).__name__}{detail}; its running "
            "command (if any) was stopped with its process group.",
            logging.ERROR,
        )
        self._finish(ok=False)

    def _finish(self, *, ok: bool) -> None:
        with self._lock:
            self.activity.finish(ok, "".join(self._parts))
        self._notify()


def record_failure(log: ActivityLog, error: BaseException) -> None:
    """End `log`'s activity as failed because of `error`.

    An `Exception` is recorded and swallowed (operations report failures on the
    activity); anything else (KeyboardInterrupt, SystemExit, a cancellation) is
    recorded as an interruption and re-raised.
    """
    if isinstance(error, Exception):
        log.fail(error)
        return
    if not log.activity.is_finished:
        log.interrupted(error)
    raise error


def check_no_activity_in_flight(activities: list[TaskGroupActivity]) -> None:
    """Raise `OngoingActivityError` if any activity is pending or ongoing.

    Stricter than the reference, which only looks at `ongoing` (weak point 2).
    """
    from .errors import OngoingActivityError

    busy = [a for a in activities if a.status in IN_FLIGHT]
    if busy:
        lines = "\n".join(
            f"{i}) action={a.action}, status={a.status}, "
            f"timestamp_started={a.timestamp_started.isoformat()}"
            for i, a in enumerate(busy, 1)
        )
        raise OngoingActivityError(
            f"Found ongoing activities for the same task-group:\n{lines}"
        )


def fail_stale_activity(
    activity: TaskGroupActivity, reason: str = "the operation was interrupted"
) -> bool:
    """Mark a pending/ongoing activity whose process died as failed (weak point 3).

    Returns True if the activity was changed. The caller decides staleness
    (e.g. no owning process alive); this only records the outcome consistently.
    """
    if activity.status not in IN_FLIGHT:
        return False
    log = ActivityLog(activity)
    log.fail(f"Marked as failed: {reason}.")
    return True
