"""Workflows: create, read with warnings, rename/reorder, delete, export,
import, type-filter flow (spec §6, §9).

A workflow name is unique within its project (its own name excluded, unlike
the reference, weak point 18). Updates are atomic: a valid rename with an
invalid reorder changes nothing. Reordering and deletion are refused while a
job of the workflow is `submitted`.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.errors import WorkflowEditError
from ..domain.task_group import TaskGroup
from ..domain.updates import WorkflowUpdate
from ..domain.workflow import Workflow
from ..images import merge_type_filters
from ..images.errors import IncompatibleTypeFiltersError
from ..io.matching import Ownership
from ..io.matching import accessible_task_groups
from ..io.schemas import WorkflowImport
from ..io.workflow_io import build_workflow
from ..io.workflow_io import export_workflow as _export_workflow
from ..io.workflow_io import resolve_workflow_import
from ..repository.base import ConflictError
from ..repository.base import Store
from ..repository.base import UnitOfWork
from . import _lookup
from ._inputs import refuse_nul
from .errors import ActiveJobError
from .errors import EmptyWorkflowError
from .errors import InvalidReorderError
from .errors import NameConflictError
from .errors import TypeFiltersConflictError

__all__ = [
    "NO_ACCESS_WARNING",
    "NOT_ACTIVE_WARNING",
    "WorkflowRead",
    "create_workflow",
    "delete_workflow",
    "export_workflow",
    "get_workflow",
    "import_workflow",
    "list_workflows",
    "type_filters_flow",
    "update_workflow",
]

NO_ACCESS_WARNING = "Current user has no access to this task."
NOT_ACTIVE_WARNING = "Task is not active."


@dataclass(frozen=True)
class WorkflowRead:
    """A workflow as read by a user: one warning (or None) per workflow task."""

    workflow: Workflow
    warnings: list[str | None]


def _name_conflict(name: str, project_id: int) -> NameConflictError:
    return NameConflictError(
        "workflow",
        name,
        project_id,
        f"Workflow with name={name} and project_id={project_id} already exists.",
    )


def _check_name_free(
    uow: UnitOfWork, project_id: int, name: str, exclude_id: int | None = None
) -> None:
    for workflow in uow.workflows.list(project_id):
        if workflow.name == name and workflow.id != exclude_id:
            raise _name_conflict(name, project_id)


def _warnings(
    uow: UnitOfWork, workflow: Workflow, ownership: Ownership | None
) -> list[str | None]:
    """Per task: no access (if `ownership` says so), else inactive, else None."""
    result: list[str | None] = []
    for wftask in workflow.task_list:
        task = _lookup.linked_task(uow, wftask)
        group = _lookup.group_of(uow, task)
        if (
            ownership is not None
            and group is not None
            and not accessible_task_groups([group], ownership)
        ):
            result.append(NO_ACCESS_WARNING)
        elif group is not None and not group.active:
            result.append(NOT_ACTIVE_WARNING)
        else:
            result.append(None)
    return result


def read_with_warnings(
    uow: UnitOfWork, workflow: Workflow, ownership: Ownership | None = None
) -> WorkflowRead:
    """Pair a workflow with its per-task warnings (spec §6.2)."""
    return WorkflowRead(workflow=workflow, warnings=_warnings(uow, workflow, ownership))


def create_workflow(
    store: Store, project_id: int, name: str, *, description: str | None = None
) -> Workflow:
    """A new empty workflow; `NameConflictError` if the name is taken."""
    refuse_nul(name=name)
    workflow = Workflow(name=name, project_id=project_id, description=description)
    with store.unit_of_work() as uow:
        _lookup.get_project(uow, project_id)
        _check_name_free(uow, project_id, workflow.name)
        try:
            stored = uow.workflows.add(workflow)
            uow.commit()
        except ConflictError as error:
            raise _name_conflict(workflow.name, project_id) from error
    return stored


def get_workflow(
    store: Store,
    project_id: int,
    workflow_id: int,
    *,
    ownership: Ownership | None = None,
) -> WorkflowRead:
    """The workflow with one warning per task ("Task is not active.", ...)."""
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        return read_with_warnings(uow, workflow, ownership)


def list_workflows(store: Store, project_id: int | None = None) -> list[Workflow]:
    """Workflows of a project (or of every project), by id."""
    with store.unit_of_work() as uow:
        if project_id is not None:
            _lookup.get_project(uow, project_id)
        workflows = uow.workflows.list(project_id)
    return sorted(workflows, key=lambda w: w.id or 0)


def update_workflow(
    store: Store,
    project_id: int,
    workflow_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    reordered_workflowtask_ids: Sequence[int] | None = None,
    ownership: Ownership | None = None,
) -> WorkflowRead:
    """Rename, describe and/or reorder a workflow, all or nothing."""
    refuse_nul(name=name, description=description)
    fields: dict[str, Any] = {}
    if name is not None:
        fields["name"] = name
    if description is not None:
        fields["description"] = description
    if reordered_workflowtask_ids is not None:
        fields["reordered_workflowtask_ids"] = list(reordered_workflowtask_ids)
    update = WorkflowUpdate.model_validate(fields)
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        if update.name is not None:
            _check_name_free(uow, project_id, update.name, exclude_id=workflow_id)
        if update.reordered_workflowtask_ids is not None:
            _check_no_running_job(
                uow,
                workflow_id,
                "Cannot re-order WorkflowTasks while a Job is running for this "
                "Workflow.",
            )
            _check_permutation(workflow, update.reordered_workflowtask_ids)
        try:
            stored = uow.workflows.update(update.apply(workflow))
            uow.commit()
        except ConflictError as error:
            raise _name_conflict(update.name or workflow.name, project_id) from error
        return read_with_warnings(uow, stored, ownership)


def _check_permutation(workflow: Workflow, given: Sequence[int]) -> None:
    current = [wftask.id for wftask in workflow.task_list if wftask.id is not None]
    if len(given) != len(current) or set(given) != set(current):
        raise InvalidReorderError(current, given)


def _check_no_running_job(uow: UnitOfWork, workflow_id: int, message: str) -> None:
    active = _lookup.submitted_job_ids(uow, workflow_id=workflow_id)
    if active:
        raise ActiveJobError("workflow", workflow_id, active, message)


def delete_workflow(store: Store, project_id: int, workflow_id: int) -> None:
    """Delete a workflow and its tasks; refused while one of its jobs runs.

    History runs stay; jobs keep their row with `workflow_id` set to `None`.
    """
    with store.unit_of_work() as uow:
        _lookup.get_workflow(uow, project_id, workflow_id)
        active = _lookup.submitted_job_ids(uow, workflow_id=workflow_id)
        if active:
            raise ActiveJobError(
                "workflow",
                workflow_id,
                active,
                f"Cannot delete workflow {workflow_id} because it is linked to "
                f"active job(s) {active}.",
            )
        uow.workflows.delete(workflow_id)
        uow.commit()


def _groups_of(uow: UnitOfWork, workflow: Workflow) -> list[TaskGroup]:
    groups: dict[int, TaskGroup] = {}
    for wftask in workflow.task_list:
        group = _lookup.group_of(uow, _lookup.linked_task(uow, wftask))
        if group is not None and group.id is not None:
            groups.setdefault(group.id, group)
    return list(groups.values())


def export_workflow(store: Store, project_id: int, workflow_id: int) -> dict[str, Any]:
    """The workflow file content: tasks as `{pkg_name, version, name}`, no ids."""
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        return _export_workflow(workflow, _groups_of(uow, workflow))


def import_workflow(
    store: Store,
    project_id: int,
    data: Mapping[str, Any] | WorkflowImport,
    *,
    ownership: Ownership | None = None,
    resource_id: int | None = None,
    override_versions: Mapping[int, str] | None = None,
    validate_args: bool = False,
) -> WorkflowRead:
    """Create a workflow from a workflow file's content (spec §9.1).

    Tasks are looked up among the task groups `ownership` can access (all
    groups when None), active or not; inactive ones are imported with the
    warning "Task is not active.". Nothing is written if any task is missing.
    """
    refuse_nul(data=data, override_versions=override_versions)
    with store.unit_of_work() as uow:
        _lookup.get_project(uow, project_id)
        name = data.name if isinstance(data, WorkflowImport) else data.get("name")
        if isinstance(name, str):
            _check_name_free(uow, project_id, name)
        groups: Iterable[TaskGroup] = uow.task_groups.list()
        if ownership is not None or resource_id is not None:
            groups = accessible_task_groups(
                groups, ownership or Ownership(), resource_id=resource_id
            )
        resolved = resolve_workflow_import(
            data, list(groups), ownership, override_versions=override_versions
        )
        workflow = build_workflow(
            resolved, project_id=project_id, validate_args=validate_args
        )
        _check_name_free(uow, project_id, workflow.name)
        try:
            stored = uow.workflows.add(workflow)
            uow.commit()
        except ConflictError as error:
            raise _name_conflict(workflow.name, project_id) from error
        return read_with_warnings(uow, stored, ownership)


def type_filters_flow(
    store: Store, project_id: int, workflow_id: int
) -> list[dict[str, Any]]:
    """Per task: current, input and output type filters (spec §6.6)."""
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
    if not workflow.task_list:
        raise EmptyWorkflowError(workflow_id)
    for wftask in workflow.task_list:
        try:
            merge_type_filters(
                task_input_types=wftask.task.input_types,
                wftask_type_filters=wftask.type_filters,
            )
        except IncompatibleTypeFiltersError as error:
            raise TypeFiltersConflictError(wftask.task_id, error) from error
    try:
        return workflow.type_filters_flow()
    except WorkflowEditError as error:  # pragma: no cover - checked above
        raise EmptyWorkflowError(workflow_id) from error
