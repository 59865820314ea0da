"""Every exception class of fractal_core, importable from this one module.

`FractalCoreError` is the base of everything the library raises on purpose, so
`except FractalCoreError` catches any of them; `JsonTextError` (a `ValueError`
that pydantic validators raise, reported as `ValidationError`) is the one
exception here outside that tree. Each class is defined next to the code that
raises it and re-exported here on first use: the subpackages import this
module for the base class, so importing them all here eagerly would be a cycle.

Two classes share the name `DatasetBusyError`: the engine's (a job of this
process already runs on the dataset) is `DatasetBusyError`; the service
layer's (a `submitted` job in the store) is `ServiceDatasetBusyError` here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .collection import CollectionStepError as CollectionStepError
    from .collection import InvalidCollectionRequest as InvalidCollectionRequest
    from .collection import OngoingActivityError as OngoingActivityError
    from .collection import OperationFailed as OperationFailed
    from .collection import PackageIndexError as PackageIndexError
    from .collection import PackageVersionNotFound as PackageVersionNotFound
    from .collection import PixiNotAvailable as PixiNotAvailable
    from .collection import PythonVersionNotAvailable as PythonVersionNotAvailable
    from .collection import TaskGroupEnvironmentMissing as TaskGroupEnvironmentMissing
    from .collection import TaskGroupPathExists as TaskGroupPathExists
    from .collection import TaskGroupRecordError as TaskGroupRecordError
    from .collection import TaskGroupStateError as TaskGroupStateError
    from .collection import TaskLifecycleError as TaskLifecycleError
    from .domain import ArgumentValidationError as ArgumentValidationError
    from .domain import DuplicateTaskNameError as DuplicateTaskNameError
    from .domain import InvalidTaskError as InvalidTaskError
    from .domain import InvalidTaskGroupOperation as InvalidTaskGroupOperation
    from .domain import InvalidTaskUpdateError as InvalidTaskUpdateError
    from .domain import WorkflowEditError as WorkflowEditError
    from .engine import DatasetBusyError as DatasetBusyError
    from .engine import DuplicateZarrUrlError as DuplicateZarrUrlError
    from .engine import EmptyImageListError as EmptyImageListError
    from .engine import InvalidTaskRange as InvalidTaskRange
    from .engine import JobCancelledError as JobCancelledError
    from .engine import JobExecutionError as JobExecutionError
    from .engine import JobRefusedError as JobRefusedError
    from .engine import JobTimeoutError as JobTimeoutError
    from .engine import MissingImageError as MissingImageError
    from .engine import NewImageOutsideZarrDirError as NewImageOutsideZarrDirError
    from .engine import TaskExecutionError as TaskExecutionError
    from .engine import TaskOutputApplicationError as TaskOutputApplicationError
    from .engine import TaskOutputValidationError as TaskOutputValidationError
    from .engine import TooManyParallelizationItems as TooManyParallelizationItems
    from .engine import UnreachableBranchError as UnreachableBranchError
    from .engine.liveness import JobOwnerRecordError as JobOwnerRecordError
    from .engine.resume import NothingToResumeError as NothingToResumeError
    from .engine.resume import ResumeError as ResumeError
    from .executors import ExecutorError as ExecutorError
    from .executors import ResourceRequestError as ResourceRequestError
    from .executors.slurm import SlurmConfigError as SlurmConfigError
    from .executors.slurm import SlurmHeuristicsError as SlurmHeuristicsError
    from .executors.slurm.submission import LostSubmission as LostSubmission
    from .hosts import CommandFailedError as CommandFailedError
    from .hosts import CommandTimeoutError as CommandTimeoutError
    from .hosts import HostError as HostError
    from .hosts import UnsafePathError as UnsafePathError
    from .hosts.ssh import SSHAuthenticationError as SSHAuthenticationError
    from .hosts.ssh import SSHConnectionError as SSHConnectionError
    from .hosts.ssh import SSHHostKeyError as SSHHostKeyError
    from .hosts.ssh import SSHTransportError as SSHTransportError
    from .images import DuplicateImageError as DuplicateImageError
    from .images import ImageNotFoundError as ImageNotFoundError
    from .images import ImageOutsideZarrDirError as ImageOutsideZarrDirError
    from .images import IncompatibleTypeFiltersError as IncompatibleTypeFiltersError
    from .io import DatasetImportError as DatasetImportError
    from .io import ImportTypeFiltersError as ImportTypeFiltersError
    from .io import LegacyTaskSourceError as LegacyTaskSourceError
    from .io import TaskGroupDisambiguationError as TaskGroupDisambiguationError
    from .io import TaskResolutionError as TaskResolutionError
    from .io import WorkflowExportError as WorkflowExportError
    from .io import WorkflowImportError as WorkflowImportError
    from .manifest import ManifestError as ManifestError
    from .repository import ConflictError as ConflictError
    from .repository import NotFoundError as NotFoundError
    from .repository import PaginationError as PaginationError
    from .repository import RepositoryError as RepositoryError
    from .repository import SchemaVersionError as SchemaVersionError
    from .services import ActiveJobError as ActiveJobError
    from .services import DatasetBusyError as ServiceDatasetBusyError  # noqa: F401
    from .services import EmptyWorkflowError as EmptyWorkflowError
    from .services import HistoryRelationError as HistoryRelationError
    from .services import InactiveTaskError as InactiveTaskError
    from .services import InvalidReorderError as InvalidReorderError
    from .services import InvalidTaskRangeError as InvalidTaskRangeError
    from .services import InvalidValueError as InvalidValueError
    from .services import JobNotRunningError as JobNotRunningError
    from .services import LogNotAvailableError as LogNotAvailableError
    from .services import MultipleRunningJobsError as MultipleRunningJobsError
    from .services import NameConflictError as NameConflictError
    from .services import ResourceMismatchError as ResourceMismatchError
    from .services import ServiceError as ServiceError
    from .services import SlurmAccountError as SlurmAccountError
    from .services import TaskTypeChangeError as TaskTypeChangeError
    from .services import TypeFiltersConflictError as TypeFiltersConflictError
    from .services import WorkflowTaskArgumentsError as WorkflowTaskArgumentsError
    from .services import WrongParentError as WrongParentError
    from .services import ZarrDirFrozenError as ZarrDirFrozenError
    from .services import ZarrDirRequiredError as ZarrDirRequiredError
    from .types.json_text import JsonTextError as JsonTextError
    from .views import ViewError as ViewError


class FractalCoreError(Exception):
    """Base class of every exception raised on purpose by fractal_core."""


class FilterError(FractalCoreError, ValueError):
    """Type or attribute filters that cannot be used; names the key and value.

    `kind` is `"type_filters"` or `"attribute_filters"`; `key` and `value` are
    the offending entry when one can be singled out (else None).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        key: str | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key
        self.value = value


# Module (relative to fractal_core) -> the exception classes it exports.
_HOMES: dict[str, str] = {
    ".collection": """
        CollectionStepError InvalidCollectionRequest OngoingActivityError
        OperationFailed PackageIndexError PackageVersionNotFound
        PixiNotAvailable PythonVersionNotAvailable TaskGroupEnvironmentMissing
        TaskGroupPathExists TaskGroupRecordError TaskGroupStateError
        TaskLifecycleError
    """,
    ".domain": """
        ArgumentValidationError DuplicateTaskNameError InvalidTaskError
        InvalidTaskGroupOperation InvalidTaskUpdateError WorkflowEditError
    """,
    ".engine": """
        DatasetBusyError DuplicateZarrUrlError EmptyImageListError
        InvalidTaskRange JobCancelledError JobExecutionError JobRefusedError
        JobTimeoutError MissingImageError NewImageOutsideZarrDirError
        TaskExecutionError TaskOutputApplicationError TaskOutputValidationError
        TooManyParallelizationItems UnreachableBranchError
    """,
    ".engine.liveness": """
        JobOwnerRecordError
    """,
    ".engine.resume": """
        NothingToResumeError ResumeError
    """,
    ".executors": """
        ExecutorError ResourceRequestError
    """,
    ".executors.slurm": """
        SlurmConfigError SlurmHeuristicsError
    """,
    ".executors.slurm.submission": """
        LostSubmission
    """,
    ".hosts": """
        CommandFailedError CommandTimeoutError HostError UnsafePathError
    """,
    ".hosts.ssh": """
        SSHAuthenticationError SSHConnectionError SSHHostKeyError
        SSHTransportError
    """,
    ".images": """
        DuplicateImageError ImageNotFoundError ImageOutsideZarrDirError
        IncompatibleTypeFiltersError
    """,
    ".io": """
        DatasetImportError ImportTypeFiltersError LegacyTaskSourceError
        TaskGroupDisambiguationError TaskResolutionError WorkflowExportError
        WorkflowImportError
    """,
    ".manifest": """
        ManifestError
    """,
    ".repository": """
        ConflictError NotFoundError PaginationError RepositoryError
        SchemaVersionError
    """,
    ".services": """
        ActiveJobError EmptyWorkflowError HistoryRelationError InactiveTaskError
        InvalidReorderError InvalidTaskRangeError InvalidValueError
        JobNotRunningError
        LogNotAvailableError MultipleRunningJobsError NameConflictError
        ResourceMismatchError ServiceError SlurmAccountError TaskTypeChangeError
        TypeFiltersConflictError WorkflowTaskArgumentsError WrongParentError
        ZarrDirFrozenError ZarrDirRequiredError
    """,
    ".types.json_text": """
        JsonTextError
    """,
    ".views": """
        ViewError
    """,
}
# Names exported here under another name than their class's own.
_ALIASES = {"ServiceDatasetBusyError": (".services", "DatasetBusyError")}
_WHERE = {
    name: (module, name) for module, names in _HOMES.items() for name in names.split()
}
_WHERE.update(_ALIASES)
__all__ = sorted(["FilterError", "FractalCoreError", *_WHERE])


def __getattr__(name: str) -> Any:
    """Import an exception class from its home module on first access."""
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        message = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(message) from None
    value = getattr(importlib.import_module(module, "fractal_core"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The exported names (loaded or not) and the module's dunders."""
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})
