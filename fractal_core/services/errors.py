"""Exceptions of the services, one per refusal of the reference's routes.

Every class derives from `ServiceError` (a `FractalCoreError`), carries the
ids and values it names as attributes, and words its message like the
reference's `detail` text, so callers may match on the same substrings
("already in use", "must be a permutation", "is not active", ...).
Missing objects raise the repository's `NotFoundError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import FractalCoreError
from ..images.errors import IncompatibleTypeFiltersError

__all__ = [
    "ActiveJobError",
    "DatasetBusyError",
    "EmptyWorkflowError",
    "InactiveTaskError",
    "InvalidReorderError",
    "InvalidTaskRangeError",
    "InvalidValueError",
    "JobNotRunningError",
    "MultipleRunningJobsError",
    "NameConflictError",
    "ResourceMismatchError",
    "ServiceError",
    "SlurmAccountError",
    "TaskTypeChangeError",
    "TypeFiltersConflictError",
    "WorkflowTaskArgumentsError",
    "WrongParentError",
    "ZarrDirFrozenError",
    "ZarrDirRequiredError",
]


class ServiceError(FractalCoreError):
    """Base class of every refusal raised by `fractal_core.services`."""


class WrongParentError(ServiceError, ValueError):
    """The object exists but belongs to another parent (project or workflow)."""

    def __init__(
        self, kind: str, object_id: int, parent_kind: str, parent_id: int
    ) -> None:
        self.kind = kind
        self.object_id = object_id
        self.parent_kind = parent_kind
        self.parent_id = parent_id
        super().__init__(
            f"Invalid {parent_kind}_id={parent_id} for {kind}_id={object_id}."
        )


class NameConflictError(ServiceError, ValueError):
    """A project or workflow name already used in its scope."""

    def __init__(
        self, kind: str, name: str, scope_id: int | None, message: str
    ) -> None:
        self.kind = kind
        self.name = name
        self.scope_id = scope_id
        super().__init__(message)


class ActiveJobError(ServiceError, ValueError):
    """A change refused while a job linked to the object is `submitted`."""

    def __init__(
        self, kind: str, object_id: int, job_ids: Sequence[Any], message: str
    ) -> None:
        self.kind = kind
        self.object_id = object_id
        self.job_ids = list(job_ids)
        super().__init__(message)


class DatasetBusyError(ActiveJobError):
    """A second job on a dataset that already has a `submitted` job."""

    def __init__(self, dataset_id: int, job_ids: Sequence[Any]) -> None:
        super().__init__(
            "dataset",
            dataset_id,
            job_ids,
            f"Dataset {dataset_id} is already in use in submitted job(s) "
            f"{list(job_ids)}.",
        )
        self.dataset_id = dataset_id


class MultipleRunningJobsError(ServiceError, RuntimeError):
    """More than one `submitted` job for one (dataset, workflow)."""

    def __init__(
        self, dataset_id: int, workflow_id: int, job_ids: Sequence[Any]
    ) -> None:
        self.dataset_id = dataset_id
        self.workflow_id = workflow_id
        self.job_ids = list(job_ids)
        super().__init__(
            f"Multiple running jobs found for dataset_id={dataset_id} and "
            f"workflow_id={workflow_id}: {self.job_ids}."
        )


class ZarrDirFrozenError(ServiceError, ValueError):
    """`zarr_dir` cannot change once the dataset has images."""

    def __init__(self, dataset_id: int) -> None:
        self.dataset_id = dataset_id
        super().__init__(
            f"Cannot modify `zarr_dir` of dataset {dataset_id} because the dataset "
            "has a non-empty image list."
        )


class ZarrDirRequiredError(ServiceError, ValueError):
    """A dataset without `zarr_dir` and no `project_dir` to derive it from."""

    def __init__(self, dataset_name: str) -> None:
        self.dataset_name = dataset_name
        super().__init__(
            f"Dataset '{dataset_name}': give `zarr_dir`, or `project_dir` to "
            "derive it from."
        )


class WorkflowTaskArgumentsError(ServiceError, ValueError):
    """Arguments or meta on a side the task type never runs."""

    def __init__(self, task_type: str, fields: Sequence[str], message: str) -> None:
        self.task_type = task_type
        self.fields = list(fields)
        super().__init__(message)


class TypeFiltersConflictError(ServiceError, IncompatibleTypeFiltersError):
    """Workflow-task type filters that contradict the task's input types."""

    def __init__(self, task_id: int | None, original: Exception) -> None:
        self.task_id = task_id
        self.conflicts = list(getattr(original, "conflicts", []) or [])
        super().__init__(f"Incompatible type filters.\nOriginal error: {original}")


class InactiveTaskError(ServiceError, ValueError):
    """A task whose task group is not active."""

    def __init__(self, task_id: int | None, task_name: str) -> None:
        self.task_id = task_id
        self.task_name = task_name
        super().__init__(f"Error: task {task_id} ({task_name}) is not active.")


class ResourceMismatchError(ServiceError, ValueError):
    """A project or task on another computing resource than the caller's."""

    def __init__(self, expected: int | None, actual: int | None, what: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{what} resource ({actual}) does not match with user's resource "
            f"({expected})."
        )


class InvalidReorderError(ServiceError, ValueError):
    """A reordering that is not a permutation of the current workflow tasks."""

    def __init__(self, current_ids: Sequence[int], given_ids: Sequence[int]) -> None:
        self.current_ids = list(current_ids)
        self.given_ids = list(given_ids)
        super().__init__(
            f"`reordered_workflowtask_ids` must be a permutation of "
            f"{self.current_ids} (given {self.given_ids})"
        )


class TaskTypeChangeError(ServiceError, ValueError):
    """A replacement task whose type the workflow task may not move to."""

    def __init__(self, old_type: str, new_type: str) -> None:
        self.old_type = old_type
        self.new_type = new_type
        super().__init__(f"Cannot change task type from {old_type} to {new_type}.")


class EmptyWorkflowError(ServiceError, ValueError):
    """A workflow without tasks where tasks are needed."""

    def __init__(self, workflow_id: int | None) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"Workflow {workflow_id} has empty task list")


class InvalidTaskRangeError(ServiceError, ValueError):
    """First/last task indices that do not fit the workflow."""

    def __init__(
        self, num_tasks: int, first: int | None, last: int | None, reason: str
    ) -> None:
        self.num_tasks = num_tasks
        self.first = first
        self.last = last
        self.reason = reason
        super().__init__(
            "Invalid values for first_task_index or last_task_index "
            f"(with num_tasks={num_tasks}).\nOriginal error: {reason}"
        )


class SlurmAccountError(ServiceError, ValueError):
    """A SLURM account the caller may not use."""

    def __init__(self, account: str, allowed: Sequence[str]) -> None:
        self.account = account
        self.allowed = list(allowed)
        super().__init__(
            f"SLURM account '{account}' is not among those available to the "
            f"current user: {self.allowed}."
        )


class JobNotRunningError(ServiceError, ValueError):
    """A stop request for a job that is not `submitted` (or has no folder)."""

    def __init__(self, job_id: int, status: str, reason: str | None = None) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(
            reason or f"Cannot stop job {job_id}: its status is '{status}'."
        )


class InvalidValueError(ServiceError, ValueError):
    """A value no store can hold (e.g. a NUL byte); names the field and value."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        self.field = field
        self.value = value
        shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."
        super().__init__(f"Invalid {field}={shown}: {problem}.")
