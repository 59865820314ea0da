"""What an operation hands back: its activity and the task group as it now is."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivity
from ..domain.task_group import TaskGroupActivityStatus
from .errors import TaskLifecycleError


class OperationFailed(TaskLifecycleError):
    """Raised by `OperationResult.raise_for_failure`; carries the activity."""

    def __init__(self, activity: TaskGroupActivity):
        tail = (activity.log or "")[-3000:]
        super().__init__(
            f"Task-group {activity.action} of {activity.pkg_name!r} "
            f"(version {activity.version}) failed. Log tail:\n{tail}"
        )
        self.activity = activity


@dataclass
class OperationResult:
    """Outcome of one collection / lifecycle operation.

    Operations never raise for operational failures (they record them on the
    activity); `task_group` is None when there is no group any more (a failed
    collection, a deletion).
    """

    activity: TaskGroupActivity
    task_group: TaskGroup | None

    @property
    def ok(self) -> bool:
        """True if the activity ended `OK`."""
        return self.activity.status == TaskGroupActivityStatus.OK

    def raise_for_failure(self) -> OperationResult:
        """Return self, or raise `OperationFailed` if the activity failed."""
        if not self.ok:
            raise OperationFailed(self.activity)
        return self
