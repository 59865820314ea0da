"""Export workflows to, and import them from, fractal-server's JSON format.

Import runs in two steps: ``resolve_workflow_import`` validates the file and
finds every task (nothing is built if any task fails, as in the reference),
then ``build_workflow`` makes the domain ``Workflow``, tasks in file order with
their meta merged over the task's defaults. ``import_workflow`` does both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fractal_core.domain.workflow import Workflow
from fractal_core.domain.workflow_task import WorkflowTask
from fractal_core.domain.workflow_task import merged_meta
from fractal_core.errors import FractalCoreError
from fractal_core.images.errors import IncompatibleTypeFiltersError
from fractal_core.images.tools import merge_type_filters
from fractal_core.io._files import read_json_file
from fractal_core.io._files import write_json_file
from fractal_core.io.errors import ImportTypeFiltersError
from fractal_core.io.errors import LegacyTaskSourceError
from fractal_core.io.errors import TaskResolutionError
from fractal_core.io.errors import WorkflowImportError
from fractal_core.io.matching import Ownership
from fractal_core.io.matching import group_version
from fractal_core.io.matching import resolve_task_references
from fractal_core.io.schemas import TaskExport
from fractal_core.io.schemas import WorkflowExport
from fractal_core.io.schemas import WorkflowImport
from fractal_core.io.schemas import WorkflowTaskExport
from fractal_core.io.schemas import WorkflowTaskImport

__all__ = [
    "INACTIVE_TASK_WARNING",
    "ResolvedWorkflow",
    "ResolvedWorkflowTask",
    "WorkflowExportError",
    "export_workflow",
    "export_workflow_file",
    "build_workflow",
    "find_legacy_source_references",
    "import_workflow",
    "import_workflow_file",
    "parse_workflow_import",
    "resolve_workflow_import",
]

logger = logging.getLogger(__name__)

INACTIVE_TASK_WARNING = "Task is not active."


class WorkflowExportError(FractalCoreError):
    """A workflow task's task is in none of the task groups given to export."""


@dataclass(frozen=True)
class ResolvedWorkflowTask:
    """One workflow-file entry with its task found and its meta merged.

    The metas are the task's defaults updated with the file's values (an empty
    result is ``None``), as the reference's insertion does; ``warning`` is
    ``"Task is not active."`` for a task of an inactive group (imported anyway).
    """

    task: Any
    task_group: Any
    meta_non_parallel: dict[str, Any] | None
    meta_parallel: dict[str, Any] | None
    args_non_parallel: dict[str, Any] | None
    args_parallel: dict[str, Any] | None
    type_filters: dict[str, bool]
    alias: str | None
    description: str | None
    warning: str | None


@dataclass(frozen=True)
class ResolvedWorkflow:
    """A validated workflow file whose every task has been found."""

    name: str
    description: str | None
    task_list: tuple[ResolvedWorkflowTask, ...]

    @property
    def warnings(self) -> list[tuple[int, str]]:
        """``(position, warning)`` for every task imported with a warning."""
        return [
            (pos, item.warning)
            for pos, item in enumerate(self.task_list)
            if item.warning is not None
        ]


def find_legacy_source_references(data: Mapping[str, Any]) -> list[tuple[int, Any]]:
    """``(position, source)`` of every ``task`` referenced by the removed ``source``."""
    found: list[tuple[int, Any]] = []
    task_list = data.get("task_list")
    if not isinstance(task_list, list):
        return found
    for position, entry in enumerate(task_list):
        task = entry.get("task") if isinstance(entry, Mapping) else None
        if isinstance(task, Mapping) and "source" in task:
            found.append((position, task["source"]))
    return found


def parse_workflow_import(data: Mapping[str, Any] | WorkflowImport) -> WorkflowImport:
    """Validate a workflow file's content (2.17.0 and 2.19+ formats).

    Raises ``LegacyTaskSourceError`` listing every ``source`` reference, and
    ``pydantic.ValidationError`` for any other schema violation.
    """
    if isinstance(data, WorkflowImport):
        return data
    legacy = find_legacy_source_references(data)
    if legacy:
        raise LegacyTaskSourceError(legacy)
    return WorkflowImport.model_validate(data)


def _apply_version_overrides(
    workflow: WorkflowImport, override_versions: Mapping[int, str]
) -> WorkflowImport:
    """A copy of ``workflow`` with the task versions at the given positions replaced."""
    task_list = list(workflow.task_list)
    for position, version in override_versions.items():
        if not 0 <= position < len(task_list):
            raise WorkflowImportError(
                "Task index out of bound in `override_versions` "
                f"(given {position}, the workflow has {len(task_list)} tasks)."
            )
        entry = task_list[position]
        new_task = entry.task.model_copy(update={"version": version})
        task_list[position] = entry.model_copy(update={"task": new_task})
    return workflow.model_copy(update={"task_list": task_list})


def _resolved_entry(
    position: int, entry: WorkflowTaskImport, task: Any, task_group: Any
) -> ResolvedWorkflowTask:
    type_filters = dict(entry.type_filters or {})
    input_types = dict(getattr(task, "input_types", None) or {})
    try:
        merge_type_filters(
            task_input_types=input_types, wftask_type_filters=type_filters
        )
    except IncompatibleTypeFiltersError as error:
        raise ImportTypeFiltersError(
            position=position,
            task_name=entry.task.name,
            type_filters=type_filters,
            input_types=input_types,
            reason=str(error),
        ) from error
    return ResolvedWorkflowTask(
        task=task,
        task_group=task_group,
        meta_non_parallel=merged_meta(
            getattr(task, "meta_non_parallel", None), entry.meta_non_parallel
        ),
        meta_parallel=merged_meta(
            getattr(task, "meta_parallel", None), entry.meta_parallel
        ),
        args_non_parallel=entry.args_non_parallel,
        args_parallel=entry.args_parallel,
        type_filters=type_filters,
        alias=entry.alias,
        description=entry.description,
        warning=None if task_group.active else INACTIVE_TASK_WARNING,
    )


def resolve_workflow_import(
    data: Mapping[str, Any] | WorkflowImport,
    task_groups: Iterable[Any],
    ownership: Ownership | None = None,
    *,
    override_versions: Mapping[int, str] | None = None,
) -> ResolvedWorkflow:
    """Validate ``data`` and find every task among ``task_groups``.

    ``task_groups`` are the candidates (active and inactive), e.g. those the
    user can access on their resource (see ``accessible_task_groups``).
    ``override_versions`` maps task positions onto versions to use instead of
    the file's (the retry after a ``TaskResolutionError``). All tasks are
    resolved before anything fails: ``TaskResolutionError`` lists every one.
    """
    workflow = parse_workflow_import(data)
    if override_versions:
        workflow = _apply_version_overrides(workflow, override_versions)
    resolutions = resolve_task_references(
        (entry.task for entry in workflow.task_list),
        task_groups,
        ownership or Ownership(),
    )
    if not all(res.ok for res in resolutions):
        raise TaskResolutionError(resolutions)
    entries = tuple(
        _resolved_entry(pos, entry, res.task, res.task_group)
        for pos, (entry, res) in enumerate(
            zip(workflow.task_list, resolutions, strict=True)
        )
    )
    resolved = ResolvedWorkflow(
        name=workflow.name, description=workflow.description, task_list=entries
    )
    for position, warning in resolved.warnings:
        logger.warning("Imported task_list[%d]: %s", position, warning)
    return resolved


def build_workflow(
    resolved: ResolvedWorkflow,
    *,
    project_id: int | None = None,
    validate_args: bool = False,
) -> Workflow:
    """The domain workflow of a resolved file (tasks appended in file order).

    Like the reference's import, argument sides and argument schemas are not
    checked unless ``validate_args`` (then ``ArgumentValidationError``);
    reserved argument keys are always refused (``pydantic.ValidationError``).
    """
    task_list = [
        WorkflowTask(
            task=item.task,
            meta_non_parallel=item.meta_non_parallel,
            meta_parallel=item.meta_parallel,
            args_non_parallel=item.args_non_parallel,
            args_parallel=item.args_parallel,
            type_filters=item.type_filters,
            alias=item.alias,
            description=item.description,
        )
        for item in resolved.task_list
    ]
    workflow = Workflow(
        name=resolved.name,
        description=resolved.description,
        project_id=project_id,
        task_list=task_list,
    )
    if validate_args:
        workflow.validate_arguments()
    return workflow


def import_workflow(
    data: Mapping[str, Any] | WorkflowImport,
    task_groups: Iterable[Any],
    ownership: Ownership | None = None,
    *,
    project_id: int | None = None,
    override_versions: Mapping[int, str] | None = None,
    validate_args: bool = False,
) -> Workflow:
    """Validate a workflow file's content, find its tasks and build the workflow.

    Errors: ``LegacyTaskSourceError`` (``source`` references),
    ``pydantic.ValidationError`` (schema), ``TaskResolutionError`` (tasks not
    found or ambiguous, with the versions on offer), ``ImportTypeFiltersError``.
    Tasks of inactive groups are imported; their warnings are logged and are
    available from ``resolve_workflow_import``.
    """
    resolved = resolve_workflow_import(
        data, task_groups, ownership, override_versions=override_versions
    )
    return build_workflow(resolved, project_id=project_id, validate_args=validate_args)


def import_workflow_file(
    path: str | Path,
    task_groups: Iterable[Any],
    ownership: Ownership | None = None,
    **kwargs: Any,
) -> Workflow:
    """``import_workflow`` on the JSON content of ``path``.

    Schema violations raise ``WorkflowImportError`` naming the file (the
    pydantic error is its cause); the other import errors are unchanged.
    """
    data = read_json_file(path, WorkflowImportError)
    if not isinstance(data, Mapping):
        raise WorkflowImportError(f"{path} does not hold a JSON object.")
    try:
        return import_workflow(data, task_groups, ownership, **kwargs)
    except ValidationError as error:
        raise WorkflowImportError(
            f"{path} is not a valid workflow file: {error}"
        ) from error


def _locate_task(wftask: Any, task_groups: list[Any]) -> tuple[Any, Any]:
    """The (task group, task) of a workflow task.

    Tried in turn: the same task object or task id; the task's group id; an
    equal task (workflows built in Python without ids, then copied). An equal
    task in groups of different package or version is ambiguous.
    """
    task = getattr(wftask, "task", None)
    task_id = getattr(wftask, "task_id", None)
    if task_id is None and task is not None:
        task_id = getattr(task, "id", None)
    for group in task_groups:
        for candidate in group.task_list:
            if candidate is task or (task_id is not None and candidate.id == task_id):
                return group, candidate
    group_id = getattr(task, "taskgroupv2_id", None)
    for group in task_groups:
        if group_id is not None and getattr(group, "id", None) == group_id:
            return group, task
    equal = [
        (group, candidate)
        for group in task_groups
        for candidate in group.task_list
        if task is not None and candidate == task
    ]
    if len({(g.pkg_name, group_version(g)) for g, _ in equal}) == 1:
        return equal[0]
    where = "several task groups" if equal else "none of the given task groups"
    raise WorkflowExportError(
        f"Cannot export workflow task with task_id={task_id} "
        f"(task {getattr(task, 'name', None)!r}): its task is in {where}."
    )


def export_workflow(workflow: Workflow, task_groups: Iterable[Any]) -> dict[str, Any]:
    """The workflow as fractal-server 2.19+ exports it (no ids, versions always set).

    Each task is written as ``{pkg_name, version, name}`` taken from its group;
    a group without version is written as ``"0"`` (the upstream migration).
    """
    groups = list(task_groups)
    entries = []
    for wftask in workflow.task_list:
        group, task = _locate_task(wftask, groups)
        entries.append(
            WorkflowTaskExport(
                meta_non_parallel=wftask.meta_non_parallel,
                meta_parallel=wftask.meta_parallel,
                args_non_parallel=wftask.args_non_parallel,
                args_parallel=wftask.args_parallel,
                type_filters=dict(wftask.type_filters or {}),
                description=getattr(wftask, "description", None),
                alias=getattr(wftask, "alias", None),
                task=TaskExport(
                    pkg_name=group.pkg_name,
                    version=group_version(group),
                    name=task.name,
                ),
            )
        )
    export = WorkflowExport(
        name=workflow.name,
        description=getattr(workflow, "description", None),
        task_list=entries,
    )
    return export.model_dump(mode="json")


def export_workflow_file(
    workflow: Workflow, task_groups: Iterable[Any], path: str | Path
) -> Path:
    """Write ``export_workflow(workflow, task_groups)`` to ``path``."""
    return write_json_file(export_workflow(workflow, task_groups), path)
