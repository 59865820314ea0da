"""Workflows and the Python builder: append/insert/move/remove tasks.

Every edit keeps `order` equal to the list position (0..n-1) and leaves the
workflow unchanged when it fails. Arguments are checked against the task's
JSON schemas (see `arguments.py`) unless `validate_args=False`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import model_validator

from ..types import NonEmptyStr
from ..views import html as views_html
from ..views import text as views_text
from ._time import get_timestamp
from .arguments import argument_problems
from .arguments import validate_arguments
from .errors import ArgumentValidationError
from .errors import WorkflowEditError
from .task import Task
from .workflow_task import WorkflowTask
from .workflow_task import WorkflowTaskUpdate
from .workflow_task import carried_over_meta
from .workflow_task import check_sides
from .workflow_task import check_type_filters
from .workflow_task import is_type_update_valid
from .workflow_task import merged_meta


class Workflow(BaseModel):
    """An ordered list of workflow tasks within a project."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    name: NonEmptyStr
    project_id: int | None = None
    description: NonEmptyStr | None = None
    task_list: list[WorkflowTask] = Field(default_factory=list)
    timestamp_created: AwareDatetime = Field(default_factory=get_timestamp)

    @model_validator(mode="after")
    def _renumber_on_load(self) -> Workflow:
        # Stored workflows may come in any order: sort by `order` when all set.
        orders = [wftask.order for wftask in self.task_list]
        if self.task_list and None not in orders:
            self.task_list.sort(key=lambda wftask: wftask.order)  # type: ignore[arg-type, return-value]
        self._renumber()
        return self

    def _renumber(self) -> None:
        for position, wftask in enumerate(self.task_list):
            wftask.order = position
            if self.id is not None:
                wftask.workflow_id = self.id

    def _position(self, position: int, *, allow_end: bool = False) -> int:
        size = len(self.task_list) + (1 if allow_end else 0)
        if isinstance(position, bool) or not isinstance(position, int):
            raise WorkflowEditError(
                f"Position must be an integer (given {position!r})."
            )
        resolved = position + size if position < 0 else position
        if not 0 <= resolved < size:
            raise WorkflowEditError(
                f"Position {position} is out of range for workflow '{self.name}' "
                f"with {len(self.task_list)} task(s)."
            )
        return resolved

    def index_of(self, wftask: WorkflowTask | int) -> int:
        """Position of a workflow task, given the object or its id."""
        for position, candidate in enumerate(self.task_list):
            if candidate is wftask or (
                isinstance(wftask, int) and candidate.id == wftask
            ):
                return position
        raise WorkflowEditError(
            f"Workflow '{self.name}' has no workflow task {wftask!r}."
        )

    # --- builder ------------------------------------------------------------

    def insert_task(
        self,
        position: int,
        task: Task,
        *,
        args_non_parallel: Mapping[str, Any] | None = None,
        args_parallel: Mapping[str, Any] | None = None,
        meta_non_parallel: Mapping[str, Any] | None = None,
        meta_parallel: Mapping[str, Any] | None = None,
        type_filters: Mapping[str, bool] | None = None,
        alias: str | None = None,
        description: str | None = None,
        validate_args: bool = True,
        merge_task_meta: bool = True,
    ) -> WorkflowTask:
        """Insert `task` at `position` (`len` = append) and return the new step.

        Checks, in order: the argument/meta sides used by the task type, type
        filters compatible with the task's input types, the arguments' schema.
        The task's meta is merged under the given one (the reference's rule).
        """
        index = self._position(position, allow_end=True)
        values: dict[str, Any] = {
            "args_non_parallel": dict(args_non_parallel)
            if args_non_parallel is not None
            else None,
            "args_parallel": dict(args_parallel) if args_parallel is not None else None,
            "meta_non_parallel": dict(meta_non_parallel)
            if meta_non_parallel is not None
            else None,
            "meta_parallel": dict(meta_parallel) if meta_parallel is not None else None,
        }
        check_sides(task.task_type, task.name, values)
        filters = dict(type_filters or {})
        check_type_filters(task, filters)
        if validate_args:
            validate_arguments(
                task, values["args_non_parallel"], values["args_parallel"]
            )
        if merge_task_meta:
            for side in ("non_parallel", "parallel"):
                values[f"meta_{side}"] = merged_meta(
                    getattr(task, f"meta_{side}"), values[f"meta_{side}"]
                )
        wftask = WorkflowTask(
            task=task,
            type_filters=filters,
            alias=alias,
            description=description,
            workflow_id=self.id,
            **values,
        )
        self.task_list.insert(index, wftask)
        self._renumber()
        return wftask

    def append_task(self, task: Task, **kwargs: Any) -> WorkflowTask:
        """Add `task` at the end; keyword arguments as for `insert_task`."""
        return self.insert_task(len(self.task_list), task, **kwargs)

    def insert_tasks(
        self, position: int, items: Sequence[tuple[Task, Mapping[str, Any]]]
    ) -> list[WorkflowTask]:
        """Insert several `(task, kwargs)` at `position` and after; all or nothing."""
        index = self._position(position, allow_end=True)
        trial = self.model_copy(deep=True)
        for offset, (task, kwargs) in enumerate(items):
            trial.insert_task(index + offset, task, **kwargs)
        self.task_list = trial.task_list
        return self.task_list[index : index + len(items)]

    def remove_task(self, position: int) -> WorkflowTask:
        """Remove and return the step at `position`; the rest are renumbered."""
        removed = self.task_list.pop(self._position(position))
        self._renumber()
        removed.order = None
        return removed

    def move_task(self, from_position: int, to_position: int) -> WorkflowTask:
        """Move one step so that it ends up at `to_position`."""
        source = self._position(from_position)
        target = self._position(to_position)
        wftask = self.task_list.pop(source)
        self.task_list.insert(target, wftask)
        self._renumber()
        return wftask

    def reorder(self, workflow_task_ids: Sequence[int]) -> None:
        """Apply a new order given as a permutation of the workflow-task ids."""
        current = [wftask.id for wftask in self.task_list]
        given = list(workflow_task_ids)
        if len(set(given)) != len(given):
            raise WorkflowEditError(
                f"`reordered_workflowtask_ids` has repetitions: {given}."
            )
        if sorted(given) != sorted(i for i in current if i is not None) or len(
            given
        ) != len(current):
            raise WorkflowEditError(
                f"`reordered_workflowtask_ids` must be a permutation of {current} "
                f"(given {given})."
            )
        by_id = {wftask.id: wftask for wftask in self.task_list}
        self.task_list = [by_id[wftask_id] for wftask_id in given]
        self._renumber()

    def update_task(
        self,
        position: int,
        update: WorkflowTaskUpdate | Mapping[str, Any],
        *,
        validate_args: bool = True,
    ) -> WorkflowTask:
        """Patch one step with the explicitly-given fields of `update`."""
        wftask = self.task_list[self._position(position)]
        if not isinstance(update, WorkflowTaskUpdate):
            update = WorkflowTaskUpdate.model_validate(dict(update))
        changes = update.changes()
        check_sides(
            wftask.effective_type,
            wftask.task.name,
            {
                key: changes.get(key)
                for key in changes
                if key.startswith(("args_", "meta_"))
            },
        )
        if "type_filters" in changes:
            check_type_filters(wftask.task, changes["type_filters"])
        if validate_args:
            merged = wftask.model_dump() | changes
            validate_arguments(
                wftask.task, merged["args_non_parallel"], merged["args_parallel"]
            )
        for key, value in changes.items():
            setattr(wftask, key, value)
        return wftask

    def replace_task(
        self,
        position: int,
        new_task: Task,
        *,
        args_non_parallel: Mapping[str, Any] | None = None,
        args_parallel: Mapping[str, Any] | None = None,
        validate_args: bool = True,
    ) -> WorkflowTask:
        """Swap the task of one step in place (version update).

        The type change must be allowed (`VALID_TYPE_UPDATES`), the step's type
        filters must suit the new task, metas are carried over (user changes
        kept, laid over the new task's defaults), arguments not given are kept;
        alias, description and position stay.
        """
        index = self._position(position)
        old = self.task_list[index]
        new_type = new_task.task_type
        if not is_type_update_valid(old.effective_type, new_type):
            raise WorkflowEditError(
                f"Cannot change task type from {old.effective_type} to {new_type} "
                f"(task '{new_task.name}')."
            )
        given = {
            "args_non_parallel": dict(args_non_parallel)
            if args_non_parallel is not None
            else None,
            "args_parallel": dict(args_parallel) if args_parallel is not None else None,
        }
        check_sides(new_type, new_task.name, given)
        check_type_filters(new_task, old.type_filters)
        args_np = (
            given["args_non_parallel"]
            if args_non_parallel is not None
            else old.args_non_parallel
        )
        args_p = (
            given["args_parallel"] if args_parallel is not None else old.args_parallel
        )
        if validate_args:
            validate_arguments(new_task, args_np, args_p)
        data = old.model_dump() | {
            "task": new_task,
            "task_id": new_task.id,
            "task_type": new_type,
            "args_non_parallel": args_np,
            "args_parallel": args_p,
        }
        for side in ("non_parallel", "parallel"):
            data[f"meta_{side}"] = carried_over_meta(
                getattr(old, f"meta_{side}"),
                getattr(old.task, f"meta_{side}"),
                getattr(new_task, f"meta_{side}"),
            )
        self.task_list[index] = WorkflowTask.model_validate(data)
        self._renumber()
        return self.task_list[index]

    # --- checks -----------------------------------------------------------

    def argument_problems(self) -> list[tuple[int, str, list[tuple[str, str, str]]]]:
        """`(position, task name, problems)` for every step with invalid arguments."""
        report = []
        for position, wftask in enumerate(self.task_list):
            problems = argument_problems(
                wftask.task, wftask.args_non_parallel, wftask.args_parallel
            )
            if problems:
                report.append((position, wftask.label(), problems))
        return report

    def validate_arguments(self) -> None:
        """Raise `ArgumentValidationError` for the first step with bad arguments."""
        for position, name, problems in self.argument_problems():
            raise ArgumentValidationError(name, problems, position=position)

    def type_filters_flow(self) -> list[dict[str, Any]]:
        """Per step: current types, input filters and output types (reference flow)."""
        if not self.task_list:
            raise WorkflowEditError("Workflow has no tasks.")
        current: dict[str, bool] = {}
        flow = []
        for wftask in self.task_list:
            flow.append(
                {
                    "workflowtask_id": wftask.id,
                    "current_type_filters": dict(current),
                    "input_type_filters": wftask.input_type_filters(),
                    "output_type_filters": dict(wftask.task.output_types),
                }
            )
            current.update(wftask.task.output_types)
        return flow

    def warnings(
        self,
        is_active: Callable[[Task], bool],
        has_access: Callable[[Task], bool] = lambda task: True,
    ) -> list[str | None]:
        """One warning (or `None`) per step, as the reference's workflow read."""
        result: list[str | None] = []
        for wftask in self.task_list:
            if not has_access(wftask.task):
                result.append("Current user has no access to this task.")
            elif not is_active(wftask.task):
                result.append("Task is not active.")
            else:
                result.append(None)
        return result

    def __repr__(self) -> str:
        return views_text.workflow_repr(self)

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__

    def _repr_html_(self) -> str:
        return views_html.workflow_html(self)
