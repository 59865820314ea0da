"""`ManifestError`: a manifest that cannot be used, naming file, task and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..errors import FractalCoreError


@dataclass(frozen=True)
class ManifestProblem:
    """One thing wrong with a manifest: where (task, field) and what."""

    message: str
    field: str | None = None
    task_index: int | None = None
    task_name: str | None = None

    def describe(self) -> str:
        """One human-readable line."""
        where = []
        if self.task_index is not None or self.task_name is not None:
            label = (
                f"task #{self.task_index}" if self.task_index is not None else "task"
            )
            if self.task_name is not None:
                label += f" '{self.task_name}'"
            where.append(label)
        if self.field is not None:
            where.append(f"field `{self.field}`")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ManifestError(FractalCoreError, ValueError):
    """A manifest failed to load or validate; `problems` says where and why."""

    def __init__(self, problems: Sequence[ManifestProblem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        head = f"Invalid manifest {source}" if source else "Invalid manifest"
        body = "\n  ".join(problem.describe() for problem in self.problems)
        super().__init__(f"{head}:\n  {body}")


def _task_name(raw: Any, index: int) -> str | None:
    """The `name` of task `index` in the raw manifest data, if readable."""
    try:
        name = raw["task_list"][index]["name"]
    except (KeyError, IndexError, TypeError):
        return None
    return name if isinstance(name, str) else repr(name)


def problems_from_validation_error(
    error: ValidationError,
    raw: Any,
    *,
    task_index: int | None = None,
    task_name: str | None = None,
) -> list[ManifestProblem]:
    """Translate pydantic errors on a manifest (or on one task) into problems.

    With `task_index` the error comes from validating that single task (whose
    locations start at the task's fields), otherwise from the whole manifest
    `raw`, where task names are looked up by index.
    """
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        ctx = item.get("ctx") or {}
        index: int | None = task_index
        if task_index is None and len(loc) >= 2 and loc[0] == "task_list":
            index = loc[1] if isinstance(loc[1], int) else None
            loc = loc[2:]
        if "task_index" in ctx:
            index = ctx["task_index"]
        field = ctx.get("field") or (".".join(str(part) for part in loc) or None)
        name = ctx.get("task_name", task_name)
        if name is None and index is not None and task_index is None:
            name = _task_name(raw, index)
        problems.append(
            ManifestProblem(
                message=item["msg"], field=field, task_index=index, task_name=name
            )
        )
    return problems
