"""Workflows in SQL: one row each, workflow tasks one row each in order,
each loaded with its stored task."""

from __future__ import annotations

import builtins

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...domain.task import Task
from ...domain.workflow import Workflow
from ..base import NotFoundError
from ..base import RepositoryError
from .history_cleanup import forget_workflowtask_cache
from .models import TaskRow
from .models import WorkflowRow
from .models import WorkflowTaskRow
from .session_tools import dump_fields
from .session_tools import for_writing
from .session_tools import missing
from .session_tools import row_by_id
from .task_groups import SQLTaskGroupRepository


class SQLWorkflowRepository:
    def __init__(self, session: Session, task_groups: SQLTaskGroupRepository) -> None:
        self._s = session
        self._groups = task_groups

    def _row(self, workflow_id: int) -> WorkflowRow:
        row = row_by_id(self._s, WorkflowRow, workflow_id)
        if row is None:
            raise missing("Workflow", workflow_id)
        return row

    def add(self, workflow: Workflow) -> Workflow:
        for_writing(self._s)
        self._check_tasks(workflow)
        row = WorkflowRow(
            project_id=workflow.project_id,
            name=workflow.name,
            data=dump_fields(workflow, {"id", "task_list", "project_id"}),
        )
        self._s.add(row)
        try:
            self._s.flush()
        except IntegrityError as error:
            raise NotFoundError(
                f"Workflow {workflow.name!r}: project {workflow.project_id} not found."
            ) from error
        self._write_tasks(row.id, workflow, fresh=True)
        return self.get(row.id)

    def _check_tasks(self, workflow: Workflow) -> None:
        """Every workflow task must name a task stored in a task group."""
        for position, wftask in enumerate(workflow.task_list):
            if wftask.task_id is None:
                raise RepositoryError(
                    f"Workflow {workflow.name!r}, workflow task {position} "
                    f"(task {wftask.task.name!r}): the task has no id; store its "
                    "task group first."
                )
        wanted = {wftask.task_id for wftask in workflow.task_list}
        found = set(self._s.scalars(select(TaskRow.id).where(TaskRow.id.in_(wanted))))
        for wftask in workflow.task_list:
            if wftask.task_id not in found:
                raise NotFoundError(
                    f"Task {wftask.task_id} not found (workflow {workflow.name!r}, "
                    f"task {wftask.task.name!r})."
                )

    def _write_tasks(
        self, workflow_id: int, workflow: Workflow, *, fresh: bool
    ) -> None:
        self._check_tasks(workflow)
        existing = {
            r.id: r
            for r in self._s.scalars(
                select(WorkflowTaskRow).where(
                    WorkflowTaskRow.workflow_id == workflow_id
                )
            )
        }
        kept: set[int] = set()
        for position, wftask in enumerate(workflow.task_list):
            data = dump_fields(wftask, {"id", "workflow_id", "order"})
            row = None if fresh or wftask.id is None else existing.get(wftask.id)
            if row is None:
                self._s.add(
                    WorkflowTaskRow(
                        workflow_id=workflow_id,
                        position=position,
                        task_id=wftask.task_id,
                        data=data,
                    )
                )
            else:
                kept.add(row.id)
                row.position, row.task_id, row.data = position, wftask.task_id, data
        gone = [wft_id for wft_id in existing if wft_id not in kept]
        forget_workflowtask_cache(self._s, gone)
        if gone:
            self._s.execute(delete(WorkflowTaskRow).where(WorkflowTaskRow.id.in_(gone)))
        self._s.flush()

    def get(self, workflow_id: int) -> Workflow:
        return self._to_workflow(self._row(workflow_id))

    def list(self, project_id: int | None = None) -> builtins.list[Workflow]:
        query = select(WorkflowRow).order_by(WorkflowRow.id)
        if project_id is not None:
            query = query.where(WorkflowRow.project_id == project_id)
        return [self._to_workflow(row) for row in self._s.scalars(query)]

    def update(self, workflow: Workflow) -> Workflow:
        for_writing(self._s)
        if workflow.id is None:
            raise missing("Workflow", None)
        row = self._row(workflow.id)
        row.name = workflow.name
        row.project_id = workflow.project_id
        row.data = dump_fields(workflow, {"id", "task_list", "project_id"})
        self._write_tasks(workflow.id, workflow, fresh=False)
        self._s.expire_all()
        return self.get(workflow.id)

    def delete(self, workflow_id: int) -> None:
        for_writing(self._s)
        self._row(workflow_id)
        wft_ids = self._s.scalars(
            select(WorkflowTaskRow.id).where(WorkflowTaskRow.workflow_id == workflow_id)
        ).all()
        forget_workflowtask_cache(self._s, wft_ids)
        self._s.execute(delete(WorkflowRow).where(WorkflowRow.id == workflow_id))
        self._s.expunge_all()

    def _to_workflow(self, row: WorkflowRow) -> Workflow:
        wft_rows = self._s.scalars(
            select(WorkflowTaskRow)
            .where(WorkflowTaskRow.workflow_id == row.id)
            .order_by(WorkflowTaskRow.position)
        ).all()
        stored_tasks = self._linked_tasks({r.task_id for r in wft_rows if r.task_id})
        task_list = []
        for wft in wft_rows:
            data = {
                **wft.data,
                "id": wft.id,
                "workflow_id": row.id,
                "order": wft.position,
            }
            task = stored_tasks.get(wft.task_id) if wft.task_id is not None else None
            if task is not None:
                data["task"] = task
            task_list.append(data)
        return Workflow.model_validate(
            {
                **row.data,
                "id": row.id,
                "project_id": row.project_id,
                "task_list": task_list,
            }
        )

    def _linked_tasks(self, task_ids: set[int]) -> dict[int, Task]:
        """Stored tasks by id, each linked to its (freshly loaded) group."""
        if not task_ids:
            return {}
        group_ids = set(
            self._s.scalars(
                select(TaskRow.task_group_id).where(TaskRow.id.in_(task_ids))
            )
        )
        found: dict[int, Task] = {}
        for group_id in sorted(group_ids):
            for task in self._groups.get(group_id).task_list:
                if task.id in task_ids:
                    found[task.id] = task
        return found
