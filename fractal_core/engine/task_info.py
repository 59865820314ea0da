"""What identifies a workflow task and its task in logs, dumps and history."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from typing import cast

from ..domain.dumps import TaskDump

__all__ = [
    "CONVERTER_TYPES",
    "default_package_of",
    "task_description",
    "workflowtask_key",
]

CONVERTER_TYPES = frozenset({"converter_non_parallel", "converter_compound"})


def task_type_of(task: Any) -> str:
    value = getattr(task, "type", None)
    return str(getattr(value, "value", value))


def task_description(
    wftask: Any, task: Any, package: tuple[str | None, str | None]
) -> str:
    """`<order>-th task ('<alias>', '<name>', <pkg> <version>)` (2.19.2+)."""
    alias = getattr(wftask, "alias", None)
    alias_part = f"'{alias}', " if alias else ""
    pkg_name, version = package
    return (
        f"{getattr(wftask, 'order', None)}-th task ({alias_part}'{task.name}', "
        f"{pkg_name} {version})"
    )


def default_package_of(task: Any) -> tuple[str | None, str | None]:
    return getattr(task, "pkg_name", None), getattr(task, "version", None)


def dump_or_empty(obj: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude=exclude)
    return {}


def task_dump_of(task: Any) -> dict[str, Any]:
    """The reference's `TaskDump` of a task (falls back to a plain dump)."""
    try:
        return TaskDump.model_validate(
            dump_or_empty(task), from_attributes=False
        ).model_dump(mode="json")
    except ValueError:
        return dump_or_empty(task)


def workflowtask_key(wftask: Any, position: int) -> Hashable:
    """The history key of a workflow task, stable across slices and reruns.

    Its `id` when it has one; else `position-<order>` (the builder keeps
    `order` equal to the position in the whole workflow); else
    `position-<position>`, where `position` is its index in the whole workflow
    (not in the slice being run).
    """
    wftask_id = getattr(wftask, "id", None)
    if wftask_id is not None:
        return cast(Hashable, wftask_id)
    order = getattr(wftask, "order", None)
    return f"position-{order if order is not None else position}"
