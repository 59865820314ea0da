"""Workflow tasks: a task placed in a workflow with its arguments and meta."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import model_validator

from ..images import merge_type_filters
from ..types import DictStrAny
from ..types import NonEmptyStr
from ..types import TypeFilters
from ..types import WorkflowTaskArgument
from ..views import text as views_text
from .errors import WorkflowEditError
from .task import Task
from .task import TaskType

SIDES = ("non_parallel", "parallel")


class WorkflowTask(BaseModel):
    """One step of a workflow (reference field names; `task` is embedded).

    `order` is the position in the workflow, kept consistent by `Workflow`;
    `task_type` is a copy of the task's type taken at insertion.
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    workflow_id: int | None = None
    order: int | None = None
    task_id: int | None = None
    task: Task
    task_type: TaskType | None = None
    meta_non_parallel: DictStrAny | None = None
    meta_parallel: DictStrAny | None = None
    args_non_parallel: WorkflowTaskArgument | None = None
    args_parallel: WorkflowTaskArgument | None = None
    type_filters: TypeFilters = Field(default_factory=dict)
    alias: NonEmptyStr | None = None
    description: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _link_task(self) -> WorkflowTask:
        if self.task_id is None:
            self.task_id = self.task.id
        elif self.task.id is not None and self.task.id != self.task_id:
            raise ValueError(
                f"task_id={self.task_id} differs from the embedded task's "
                f"id={self.task.id} (task '{self.task.name}')."
            )
        if self.task_type is None:
            self.task_type = self.task.task_type
        return self

    @property
    def effective_type(self) -> TaskType:
        """The stored task type (set at insertion), never `None`."""
        return self.task_type or self.task.task_type

    def input_type_filters(self) -> dict[str, bool]:
        """The task's input types merged with this step's type filters."""
        return merge_type_filters(
            task_input_types=self.task.input_types,
            wftask_type_filters=self.type_filters,
        )

    def label(self) -> str:
        """How messages name this step: alias if set, else the task name."""
        return self.alias or self.task.name

    def __repr__(self) -> str:
        return views_text.workflow_task_repr(self)

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__


def check_sides(
    task_type: TaskType, task_name: str, values: dict[str, Any | None]
) -> None:
    """Refuse arguments/meta on a side the task type never runs.

    The reference checks this only for `parallel` and `non_parallel` tasks
    (and `converter_non_parallel` on patch); we derive it from the type.
    """
    for side in SIDES:
        used = (
            task_type.uses_parallel
            if side == "parallel"
            else task_type.uses_non_parallel
        )
        if used:
            continue
        given = [
            f"{kind}_{side}"
            for kind in ("args", "meta")
            if values.get(f"{kind}_{side}")
        ]
        if given:
            raise WorkflowEditError(
                f"Cannot set {' or '.join(given)} for task '{task_name}' of type "
                f"'{task_type}', which has no {side.replace('_', ' ')} part."
            )


def check_type_filters(task: Task, type_filters: dict[str, bool]) -> None:
    """Refuse type filters that contradict the task's input types."""
    try:
        merge_type_filters(
            task_input_types=task.input_types, wftask_type_filters=type_filters
        )
    except ValueError as error:
        raise WorkflowEditError(
            f"Incompatible type filters for task '{task.name}'.\n"
            f"Original error: {error}"
        ) from error


def merged_meta(
    task_meta: dict[str, Any] | None, user_meta: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Task meta updated with the user's (user keys win); empty → `None`."""
    merged = copy.deepcopy(task_meta or {})
    merged.update(copy.deepcopy(user_meta or {}))
    return merged or None


VALID_TYPE_UPDATES: dict[TaskType, frozenset[TaskType]] = {
    TaskType.NON_PARALLEL: frozenset(
        {TaskType.NON_PARALLEL, TaskType.CONVERTER_NON_PARALLEL}
    ),
    TaskType.COMPOUND: frozenset({TaskType.COMPOUND, TaskType.CONVERTER_COMPOUND}),
    TaskType.CONVERTER_NON_PARALLEL: frozenset({TaskType.CONVERTER_NON_PARALLEL}),
    TaskType.CONVERTER_COMPOUND: frozenset({TaskType.CONVERTER_COMPOUND}),
    TaskType.PARALLEL: frozenset({TaskType.PARALLEL}),
}
"""Task types a workflow task may move to when its task is replaced (§8.1)."""


def is_type_update_valid(old: TaskType, new: TaskType) -> bool:
    """True if a step of type `old` may be given a task of type `new`."""
    return new in VALID_TYPE_UPDATES[old]


def carried_over_meta(
    current: dict[str, Any] | None,
    old_task_meta: dict[str, Any] | None,
    new_task_meta: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The step's meta after a task replacement: keep what the user changed.

    User additions (values differing from the old task's defaults) are laid
    over the new task's meta; defaults the user deleted stay deleted.
    """
    if old_task_meta is None:
        return copy.deepcopy(current)
    if current is None:
        return copy.deepcopy(new_task_meta)
    additions = {
        key: value
        for key, value in current.items()
        if key not in old_task_meta or old_task_meta[key] != value
    }
    removals = set(old_task_meta) - set(current)
    result = copy.deepcopy(new_task_meta or {}) | copy.deepcopy(additions)
    return {key: value for key, value in result.items() if key not in removals}


class WorkflowTaskUpdate(BaseModel):
    """A patch of a workflow task (`WorkflowTaskUpdateV2` + alias/description).

    Only explicitly-given fields are applied. Arguments given as `{}` or `None`
    clear them; metas are replaced wholesale; `type_filters` may be omitted
    but not null.
    """

    model_config = ConfigDict(extra="forbid")

    meta_non_parallel: DictStrAny | None = None
    meta_parallel: DictStrAny | None = None
    args_non_parallel: WorkflowTaskArgument | None = None
    args_parallel: WorkflowTaskArgument | None = None
    type_filters: TypeFilters | None = None
    alias: NonEmptyStr | None = None
    description: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _type_filters_not_null(self) -> WorkflowTaskUpdate:
        if "type_filters" in self.model_fields_set and self.type_filters is None:
            raise ValueError("`type_filters` may be omitted but cannot be null.")
        return self

    def changes(self) -> dict[str, Any]:
        """The explicitly-given fields, with empty arguments turned into `None`."""
        result = self.model_dump(exclude_unset=True)
        for key in ("args_non_parallel", "args_parallel"):
            if key in result:
                result[key] = copy.deepcopy(result[key]) or None
        return result
