"""Exceptions raised by task-package collection and lifecycle operations."""

from __future__ import annotations

from ..errors import FractalCoreError


class TaskLifecycleError(FractalCoreError):
    """Base class of every collection / lifecycle error."""


class InvalidCollectionRequest(TaskLifecycleError, ValueError):
    """A package name, version, extra, pin, filename or path is not acceptable."""


class PythonVersionNotAvailable(TaskLifecycleError):
    """The requested Python version is not configured."""


class PixiNotAvailable(TaskLifecycleError):
    """Pixi collection is not configured, or the requested pixi version is not."""


class PackageIndexError(TaskLifecycleError):
    """The package index could not be queried or does not know the package."""


class PackageVersionNotFound(TaskLifecycleError):
    """No release of the package matches the requested version."""


class TaskGroupPathExists(TaskLifecycleError):
    """The task-group folder already exists (another collection owns it)."""


class TaskGroupStateError(TaskLifecycleError):
    """A lifecycle action does not fit the task group's current state."""


class OngoingActivityError(TaskGroupStateError):
    """Another activity on the same task group is still pending or ongoing."""


class CollectionStepError(TaskLifecycleError):
    """One step of an operation failed; the message names the step and its output."""


class TaskGroupRecordError(TaskLifecycleError, ValueError):
    """A task-group record is missing, unreadable or invalid (names file and field)."""


class TaskGroupEnvironmentMissing(TaskGroupStateError):
    """A recorded group's environment (venv, interpreter, task files) is gone."""
