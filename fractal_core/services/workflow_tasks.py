"""Workflow tasks: insert, patch, delete, replace, version-update candidates
(spec §7, §8).

The argument/meta sides a task type never runs are refused by one rule in
every path (the reference checks them unevenly, weak point 15): a parallel
task takes no non-parallel arguments or meta, a (converter) non-parallel
task no parallel ones, compound tasks both. Arguments are checked against
the task's JSON schemas as the workflow builder does (`validate_args`).
Tasks are inserted at any position (the reference always appends).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion
from packaging.version import Version

from ..domain.task import Task
from ..domain.task import TaskType
from ..domain.task_group import TaskGroup
from ..domain.workflow import Workflow
from ..domain.workflow_task import WorkflowTask
from ..domain.workflow_task import WorkflowTaskUpdate
from ..domain.workflow_task import is_type_update_valid
from ..images import merge_type_filters
from ..images.errors import IncompatibleTypeFiltersError
from ..io.matching import Ownership
from ..io.matching import accessible_task_groups
from ..repository.base import NotFoundError
from ..repository.base import Store
from ..repository.base import UnitOfWork
from . import _lookup
from ._inputs import as_mapping
from ._inputs import refuse_nul
from .errors import ActiveJobError
from .errors import InactiveTaskError
from .errors import TaskTypeChangeError
from .errors import TypeFiltersConflictError
from .errors import WorkflowTaskArgumentsError

__all__ = [
    "create_workflow_task",
    "delete_workflow_task",
    "get_workflow_task",
    "replace_workflow_task",
    "update_workflow_task",
    "version_update_candidates",
]

_SIDE_MESSAGES = {
    ("create", "non_parallel"): (
        "Cannot set `WorkflowTaskV2.meta_non_parallel` or "
        "`WorkflowTask.args_non_parallel` if the associated Task is `parallel`."
    ),
    ("create", "parallel"): (
        "Cannot set `WorkflowTaskV2.meta_parallel` or "
        "`WorkflowTask.args_parallel` if the associated Task is `non_parallel`."
    ),
    ("patch", "non_parallel"): (
        "Cannot patch `WorkflowTaskV2.args_non_parallel` or "
        "`WorkflowTask.meta_non_parallel` if the associated Task is parallel."
    ),
    ("patch", "parallel"): (
        "Cannot patch `WorkflowTaskV2.args_parallel` or "
        "`WorkflowTask.meta_parallel` if the associated Task is non parallel."
    ),
    ("replace", "non_parallel"): "Cannot set 'args_non_parallel' for parallel task.",
    ("replace", "parallel"): "Cannot set 'args_parallel' for non-parallel task.",
}


def check_sides(task_type: TaskType, given: Mapping[str, Any], action: str) -> None:
    """Refuse any non-None argument/meta on a side `task_type` never runs.

    `action` ("create", "patch" or "replace") picks the reference's wording.
    """
    for side, used in (
        ("non_parallel", task_type.uses_non_parallel),
        ("parallel", task_type.uses_parallel),
    ):
        if used:
            continue
        fields = [
            f"{kind}_{side}"
            for kind in ("args", "meta")
            if given.get(f"{kind}_{side}") is not None
        ]
        if fields:
            raise WorkflowTaskArgumentsError(
                str(task_type),
                fields,
                f"{_SIDE_MESSAGES[(action, side)]} (task type '{task_type}', "
                f"given {', '.join(fields)})",
            )


def check_type_filters(task: Task, type_filters: Mapping[str, bool]) -> None:
    """`TypeFiltersConflictError` if the filters contradict the task's input types."""
    try:
        merge_type_filters(
            task_input_types=task.input_types, wftask_type_filters=type_filters
        )
    except IncompatibleTypeFiltersError as error:
        raise TypeFiltersConflictError(task.id, error) from error


def usable_task(
    uow: UnitOfWork,
    task_id: int,
    *,
    ownership: Ownership | None = None,
    resource_id: int | None = None,
) -> Task:
    """A stored task the caller may put in a workflow: accessible and active."""
    task = _lookup.get_task(uow, task_id)
    group = _lookup.group_of(uow, task)
    restricted = ownership is not None or resource_id is not None
    if (
        group is not None
        and restricted
        and not accessible_task_groups(
            [group], ownership or Ownership(), resource_id=resource_id
        )
    ):
        raise NotFoundError(
            f"Task {task_id} not found among the task groups the caller can access."
        )
    if group is not None and not group.active:
        raise InactiveTaskError(task_id, task.name)
    return task


def _stored_task(workflow: Workflow, position: int) -> WorkflowTask:
    return workflow.task_list[position]


def create_workflow_task(
    store: Store,
    project_id: int,
    workflow_id: int,
    task_id: int,
    *,
    position: int | None = None,
    args_non_parallel: Mapping[str, Any] | None = None,
    args_parallel: Mapping[str, Any] | None = None,
    meta_non_parallel: Mapping[str, Any] | None = None,
    meta_parallel: Mapping[str, Any] | None = None,
    type_filters: Mapping[str, bool] | None = None,
    alias: str | None = None,
    description: str | None = None,
    ownership: Ownership | None = None,
    resource_id: int | None = None,
    validate_args: bool = True,
) -> WorkflowTask:
    """Insert a task at `position` (default: append); its meta merged under the
    given one. Checks, in the reference's order: task found, accessible and
    active; argument sides; type filters; then the argument schemas."""
    refuse_nul(
        args_non_parallel=args_non_parallel,
        args_parallel=args_parallel,
        meta_non_parallel=meta_non_parallel,
        meta_parallel=meta_parallel,
        type_filters=type_filters,
        alias=alias,
        description=description,
    )
    values: dict[str, Any] = {
        "args_non_parallel": args_non_parallel,
        "args_parallel": args_parallel,
        "meta_non_parallel": meta_non_parallel,
        "meta_parallel": meta_parallel,
    }
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        task = usable_task(uow, task_id, ownership=ownership, resource_id=resource_id)
        check_sides(task.task_type, values, "create")
        check_type_filters(task, type_filters or {})
        index = len(workflow.task_list) if position is None else position
        wftask = workflow.insert_task(
            index,
            task,
            type_filters=type_filters,
            alias=alias,
            description=description,
            validate_args=validate_args,
            **values,
        )
        stored = uow.workflows.update(workflow)
        uow.commit()
    return _stored_task(stored, wftask.order or 0)


def get_workflow_task(
    store: Store, project_id: int, workflow_id: int, workflow_task_id: int
) -> WorkflowTask:
    """One workflow task, through project and workflow."""
    with store.unit_of_work() as uow:
        workflow, position = _lookup.get_workflow_task(
            uow, project_id, workflow_id, workflow_task_id
        )
    return workflow.task_list[position]


def update_workflow_task(
    store: Store,
    project_id: int,
    workflow_id: int,
    workflow_task_id: int,
    update: WorkflowTaskUpdate | Mapping[str, Any],
    *,
    validate_args: bool = True,
) -> WorkflowTask:
    """Patch the explicitly-given fields: arguments `{}`/None clear them, metas
    and type filters are replaced wholesale (no merge with the task's meta)."""
    refuse_nul(update=update)
    if not isinstance(update, WorkflowTaskUpdate):
        update = WorkflowTaskUpdate.model_validate(as_mapping("update", update))
    changes = update.model_dump(exclude_unset=True)
    with store.unit_of_work() as uow:
        workflow, position = _lookup.get_workflow_task(
            uow, project_id, workflow_id, workflow_task_id
        )
        wftask = workflow.task_list[position]
        if "type_filters" in changes:
            check_type_filters(wftask.task, changes["type_filters"])
        check_sides(wftask.effective_type, changes, "patch")
        workflow.update_task(position, update, validate_args=validate_args)
        stored = uow.workflows.update(workflow)
        uow.commit()
    return _stored_task(stored, position)


def delete_workflow_task(
    store: Store, project_id: int, workflow_id: int, workflow_task_id: int
) -> None:
    """Remove a workflow task (the rest renumbered); refused while a job runs."""
    with store.unit_of_work() as uow:
        workflow, position = _lookup.get_workflow_task(
            uow, project_id, workflow_id, workflow_task_id
        )
        active = _lookup.submitted_job_ids(uow, workflow_id=workflow_id)
        if active:
            raise ActiveJobError(
                "workflow",
                workflow_id,
                active,
                "Cannot delete a WorkflowTask while a Job is running for this "
                "Workflow.",
            )
        workflow.remove_task(position)
        uow.workflows.update(workflow)
        uow.commit()


def replace_workflow_task(
    store: Store,
    project_id: int,
    workflow_id: int,
    workflow_task_id: int,
    new_task_id: int,
    *,
    args_non_parallel: Mapping[str, Any] | None = None,
    args_parallel: Mapping[str, Any] | None = None,
    ownership: Ownership | None = None,
    resource_id: int | None = None,
    validate_args: bool = True,
) -> WorkflowTask:
    """Give a workflow task another task (a version update), in place.

    The type change must be allowed, the step's type filters must suit the
    new task, metas carry the user's changes over the new task's defaults
    (spec §8.4), arguments not given are kept; id and position stay.
    """
    with store.unit_of_work() as uow:
        workflow, position = _lookup.get_workflow_task(
            uow, project_id, workflow_id, workflow_task_id
        )
        old = workflow.task_list[position]
        new_task = usable_task(
            uow, new_task_id, ownership=ownership, resource_id=resource_id
        )
        if not is_type_update_valid(old.effective_type, new_task.task_type):
            raise TaskTypeChangeError(str(old.effective_type), str(new_task.task_type))
        check_sides(
            new_task.task_type,
            {"args_non_parallel": args_non_parallel, "args_parallel": args_parallel},
            "replace",
        )
        check_type_filters(new_task, old.type_filters)
        old_task = _lookup.linked_task(uow, old)
        if old.task != old_task:  # the stored task's meta defaults may differ
            workflow.task_list[position] = old.model_copy(update={"task": old_task})
        workflow.replace_task(
            position,
            new_task,
            args_non_parallel=args_non_parallel,
            args_parallel=args_parallel,
            validate_args=validate_args,
        )
        stored = uow.workflows.update(workflow)
        uow.commit()
    return _stored_task(stored, position)


def _parsed(version: str | None) -> Version | None:
    if version is None:
        return None
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _candidates_for(
    task: Task, group: TaskGroup | None, groups: list[TaskGroup]
) -> list[dict[str, Any]]:
    """Newer tasks that may replace `task` (spec §8.2), oldest first."""
    if task.args_schema_parallel is None and task.args_schema_non_parallel is None:
        return []
    current = _parsed(group.version if group is not None else None)
    if group is None or current is None:
        return []
    found: list[tuple[Version, int, dict[str, Any]]] = []
    for other in groups:
        version = _parsed(other.version)
        if (
            other.pkg_name != group.pkg_name
            or not other.active
            or version is None
            or not version > current
        ):
            continue
        for candidate in other.task_list:
            if (
                candidate.name == task.name
                and candidate.id is not None
                and (
                    candidate.args_schema_parallel is not None
                    or candidate.args_schema_non_parallel is not None
                )
                and is_type_update_valid(task.task_type, candidate.task_type)
            ):
                found.append(
                    (
                        version,
                        candidate.id,
                        {"task_id": candidate.id, "version": other.version},
                    )
                )
    return [entry for _, _, entry in sorted(found, key=lambda item: item[:2])]


def version_update_candidates(
    store: Store,
    project_id: int,
    workflow_id: int,
    *,
    ownership: Ownership | None = None,
    resource_id: int | None = None,
) -> list[list[dict[str, Any]]]:
    """For each workflow task, in order, the `{task_id, version}` it may move to.

    Same task name and package, strictly newer PEP 440 version, active and
    accessible group, an argument schema, an allowed type change; oldest
    first. Groups on another resource are left out when `resource_id` is
    given (the reference does not filter by resource, weak point 19).
    """
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        groups = uow.task_groups.list()
        if ownership is not None or resource_id is not None:
            groups = accessible_task_groups(
                groups, ownership or Ownership(), resource_id=resource_id
            )
        result = []
        for wftask in workflow.task_list:
            task = _lookup.linked_task(uow, wftask)
            result.append(_candidates_for(task, _lookup.group_of(uow, task), groups))
    return result
