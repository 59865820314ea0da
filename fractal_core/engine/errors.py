"""Exceptions of the workflow engine, with the reference's names and messages.

`JobExecutionError` is what fails a job "with a JOB ERROR" (its `assemble_error`
text is the job log); the more specific classes below let callers tell the
reasons apart while still matching the reference's base classes.
"""

from __future__ import annotations

from typing import Any

from ..errors import FractalCoreError


class JobExecutionError(RuntimeError, FractalCoreError):
    """A job-level failure (a task failed, its outputs could not be applied, ...)."""

    def __init__(
        self,
        *args: object,
        info: str | None = None,
        failures: list[Any] | None = None,
    ) -> None:
        super().__init__(*args)
        self.info = info
        # The failed units (task, images, message), when a task's units failed.
        self.failures: list[Any] = list(failures or [])

    def assemble_error(self) -> str:
        """The text the reference writes into the job log after "TRACEBACK:"."""
        content = f"\n{self.info}\n\n" if self.info else str(self)
        return f"JobExecutionError\n{content}"

    def __str__(self) -> str:
        text = super().__str__()
        if not text and self.info:
            return self.info
        return text


class TaskExecutionError(RuntimeError, FractalCoreError):
    """One unit of a task failed or could not run; the message is the executor's."""

    def __init__(
        self,
        *args: object,
        workflow_task_id: int | None = None,
        workflow_task_order: int | None = None,
        task_name: str | None = None,
    ) -> None:
        super().__init__(*args)
        self.workflow_task_id = workflow_task_id
        self.workflow_task_order = workflow_task_order
        self.task_name = task_name


class TaskOutputValidationError(ValueError, FractalCoreError):
    """A unit's `--out-json` content is not a valid (init-)task output."""


class InvalidTaskRange(ValueError, FractalCoreError):
    """first/last task index outside the workflow's task list."""


class TooManyParallelizationItems(JobExecutionError):
    """A parallel or compound task has more units than the configured limit."""


class EmptyImageListError(JobExecutionError):
    """A non-converter task would run on an empty image list (2.17.1+)."""


class TaskOutputApplicationError(JobExecutionError):
    """The merged outputs of a task cannot be applied to the image list."""


class DuplicateZarrUrlError(TaskOutputApplicationError, ValueError):
    """The same zarr_url appears twice among a task's updates and removals."""


class NewImageOutsideZarrDirError(TaskOutputApplicationError, ValueError):
    """A task created an image that is not strictly inside the dataset's zarr_dir."""


class MissingImageError(TaskOutputApplicationError, KeyError):
    """A task asked to remove an image that is not in the image list."""

    def __str__(self) -> str:
        return RuntimeError.__str__(self)


class UnreachableBranchError(RuntimeError, FractalCoreError):
    """An executor broke its contract (e.g. a unit without a result)."""


class JobCancelledError(JobExecutionError):
    """The job was cancelled (by a caller, Ctrl-C or its time limit)."""

    def __init__(self, reason: str) -> None:
        super().__init__(info=f"Job cancelled: {reason}")
        self.reason = reason


class JobTimeoutError(JobCancelledError):
    """The job ran longer than its time limit and was cancelled."""


class JobRefusedError(ValueError, FractalCoreError):
    """A job cannot start: nothing was created (busy dataset, inactive task, ...)."""


class DatasetBusyError(JobRefusedError):
    """Another job of this process is running on the same dataset."""
