"""Exceptions raised while reading, resolving or writing workflow and dataset files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fractal_core.errors import FractalCoreError
from fractal_core.images.errors import IncompatibleTypeFiltersError

if TYPE_CHECKING:
    from fractal_core.io.matching import TaskResolution

__all__ = [
    "DatasetImportError",
    "ImportTypeFiltersError",
    "LegacyTaskSourceError",
    "TaskResolutionError",
    "WorkflowImportError",
]


class WorkflowImportError(FractalCoreError):
    """A workflow file could not be turned into a workflow."""


class LegacyTaskSourceError(WorkflowImportError):
    """The file references tasks by ``source``, removed in fractal-server 2.19.

    ``references`` holds ``(position, source)`` for every offending workflow task.
    """

    def __init__(self, references: Sequence[tuple[int, object]]) -> None:
        self.references = list(references)
        listed = "; ".join(
            f"task_list[{pos}].task.source={src!r}" for pos, src in self.references
        )
        super().__init__(
            "Task references by `source` are no longer supported (removed in "
            "fractal-server 2.19.0): reference each task by `pkg_name`, `version` "
            f"and `name` instead. Found: {listed}."
        )


class TaskResolutionError(WorkflowImportError):
    """At least one task reference matched no task group, or matched ambiguously.

    ``resolutions`` has one entry per workflow task, in file order: successful
    ones name the chosen task, failed ones list the available versions with
    ``older_than_target`` and ``active`` (the reference's ``AvailableTask``).
    """

    def __init__(self, resolutions: Sequence[TaskResolution]) -> None:
        self.resolutions = list(resolutions)
        lines = [
            f"  task_list[{pos}]: {res.describe()}"
            for pos, res in enumerate(self.resolutions)
            if not res.ok
        ]
        super().__init__(
            "Could not resolve every task of the workflow file:\n" + "\n".join(lines)
        )

    @property
    def failures(self) -> list[TaskResolution]:
        """The failed resolutions only, in file order."""
        return [res for res in self.resolutions if not res.ok]

    def newest_versions(self, *, active_only: bool = True) -> dict[int, str]:
        """``{position: newest available version}`` for failures with candidates.

        Ready to pass as ``override_versions`` to retry the import; positions
        with nothing to offer (or nothing active) are left out.
        """
        chosen: dict[int, str] = {}
        for position, res in enumerate(self.resolutions):
            if res.ok:
                continue
            offers = [a for a in res.available_tasks if a.active or not active_only]
            if offers:
                chosen[position] = offers[0].version  # listed newest first
        return chosen

    def to_data(self) -> list[dict[str, object]]:
        """One dict per workflow task, shaped like the reference's 422 ``data``."""
        return [res.to_dict() for res in self.resolutions]


class ImportTypeFiltersError(WorkflowImportError, IncompatibleTypeFiltersError):
    """A workflow task's ``type_filters`` contradict its task's ``input_types``.

    Also an ``IncompatibleTypeFiltersError``, so callers may catch either.
    """

    def __init__(
        self,
        *,
        position: int,
        task_name: str,
        type_filters: dict[str, bool],
        input_types: dict[str, bool],
        reason: str,
    ) -> None:
        self.position = position
        self.task_name = task_name
        self.type_filters = dict(type_filters)
        self.input_types = dict(input_types)
        super().__init__(
            f"Incompatible type filters for task_list[{position}] "
            f"(task {task_name!r}): type_filters={self.type_filters} vs "
            f"input_types={self.input_types}. Original error: {reason}"
        )


class DatasetImportError(FractalCoreError):
    """A dataset file could not be turned into a dataset."""
