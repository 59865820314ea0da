"""Exceptions raised by the domain objects (tasks, task groups, workflows)."""

from __future__ import annotations

from ..errors import FractalCoreError


class InvalidTaskError(FractalCoreError, ValueError):
    """A task whose commands, meta or argument schemas contradict its type."""


class InvalidTaskUpdateError(FractalCoreError, ValueError):
    """An update that would set a command the task type does not use."""


class InvalidTaskGroupOperation(FractalCoreError, ValueError):
    """An operation that does not apply to this task group (e.g. pip on pixi)."""


class DuplicateTaskNameError(FractalCoreError, ValueError):
    """Two tasks of one manifest or task group share a name."""

    def __init__(self, duplicates: list[str], where: str = "task group") -> None:
        self.duplicates = duplicates
        names = ", ".join(repr(name) for name in duplicates)
        super().__init__(f"Task names in a {where} must be unique; repeated: {names}.")


class WorkflowEditError(FractalCoreError, ValueError):
    """A workflow edit that cannot be applied (bad index, wrong argument side...)."""


class ArgumentValidationError(FractalCoreError, ValueError):
    """Workflow-task arguments that do not satisfy the task's JSON schema.

    `problems` lists `(part, path, message)` triples, `part` being
    `args_non_parallel` or `args_parallel` and `path` a `/`-joined JSON path.
    """

    def __init__(
        self,
        task_name: str,
        problems: list[tuple[str, str, str]],
        position: int | None = None,
    ) -> None:
        self.task_name = task_name
        self.problems = problems
        self.position = position
        where = f" at position {position}" if position is not None else ""
        lines = [
            f"{part} at '{path or '/'}': {message}" for part, path, message in problems
        ]
        super().__init__(
            f"Invalid arguments for task '{task_name}'{where}:\n  " + "\n  ".join(lines)
        )
