"""Task groups, their tasks (one row each, in order) and their activities in SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from ...domain.task import Task
from ...domain.task_group import TaskGroup
from ...domain.task_group import TaskGroupActivity
from ..base import ConflictError
from .models import TaskGroupActivityRow
from .models import TaskGroupRow
from .models import TaskRow
from .models import WorkflowTaskRow
from .session_tools import dump_fields
from .session_tools import for_writing
from .session_tools import missing
from .session_tools import row_by_id


class SQLTaskGroupRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _row(self, task_group_id: int) -> TaskGroupRow:
        row = row_by_id(self._s, TaskGroupRow, task_group_id)
        if row is None:
            raise missing("TaskGroup", task_group_id)
        return row

    def _write_tasks(self, group_id: int, tasks: Sequence[Task]) -> None:
        """Store the task list: tasks with a stored id keep it, others get one."""
        existing = {
            row.id: row
            for row in self._s.scalars(
                select(TaskRow).where(TaskRow.task_group_id == group_id)
            )
        }
        kept: set[int] = set()
        for position, task in enumerate(tasks):
            data = dump_fields(task, {"id", "taskgroupv2_id"})
            row = existing.get(task.id) if task.id is not None else None
            if row is None:
                self._s.add(
                    TaskRow(
                        task_group_id=group_id,
                        position=position,
                        name=task.name,
                        data=data,
                    )
                )
            else:
                kept.add(row.id)
                row.position, row.name, row.data = position, task.name, data
        for task_id, row in existing.items():
            if task_id not in kept:
                self._s.delete(row)
        self._s.flush()

    def add(self, group: TaskGroup) -> TaskGroup:
        for_writing(self._s)
        row = TaskGroupRow(
            pkg_name=group.pkg_name,
            version=group.version,
            active=group.active,
            data=dump_fields(group, {"id", "task_list"}),
        )
        self._s.add(row)
        self._s.flush()
        self._write_tasks(
            row.id, [t.model_copy(update={"id": None}) for t in group.task_list]
        )
        return self.get(row.id)

    def get(self, task_group_id: int) -> TaskGroup:
        return self._to_group(self._row(task_group_id))

    def get_task(self, task_id: int) -> Task:
        row = row_by_id(self._s, TaskRow, task_id)
        if row is None:
            raise missing("Task", task_id)
        group = self.get(row.task_group_id)
        for task in group.task_list:
            if task.id == task_id:
                return task
        raise missing("Task", task_id)  # pragma: no cover - same transaction

    def list(
        self,
        *,
        pkg_name: str | None = None,
        version: str | None = None,
        active: bool | None = None,
    ) -> builtins.list[TaskGroup]:
        query = select(TaskGroupRow).order_by(TaskGroupRow.id)
        if pkg_name is not None:
            query = query.where(TaskGroupRow.pkg_name == pkg_name)
        if version is not None:
            query = query.where(TaskGroupRow.version == version)
        if active is not None:
            query = query.where(TaskGroupRow.active == active)
        return [self._to_group(row) for row in self._s.scalars(query)]

    def update(self, group: TaskGroup) -> None:
        for_writing(self._s)
        if group.id is None:
            raise missing("TaskGroup", None)
        row = self._row(group.id)
        row.pkg_name, row.version, row.active = (
            group.pkg_name,
            group.version,
            group.active,
        )
        row.data = dump_fields(group, {"id", "task_list"})
        self._write_tasks(group.id, group.task_list)

    def delete(self, task_group_id: int) -> None:
        """Delete the group and its tasks; refused while a workflow uses one."""
        for_writing(self._s)
        self._row(task_group_id)
        used = self._s.execute(
            select(TaskRow.id, WorkflowTaskRow.workflow_id)
            .join(WorkflowTaskRow, WorkflowTaskRow.task_id == TaskRow.id)
            .where(TaskRow.task_group_id == task_group_id)
            .limit(1)
        ).first()
        if used is not None:
            raise ConflictError(
                f"TaskGroup {task_group_id} cannot be deleted: its task {used[0]} "
                f"is used by workflow {used[1]}."
            )
        self._s.execute(delete(TaskGroupRow).where(TaskGroupRow.id == task_group_id))
        self._s.execute(
            update(TaskGroupActivityRow)
            .where(TaskGroupActivityRow.task_group_id == task_group_id)
            .values(task_group_id=None)
        )
        self._s.expunge_all()

    def add_activity(self, activity: TaskGroupActivity) -> TaskGroupActivity:
        for_writing(self._s)
        row = TaskGroupActivityRow(
            task_group_id=activity.taskgroupv2_id, data=dump_fields(activity, {"id"})
        )
        self._s.add(row)
        self._s.flush()
        return self._to_activity(row)

    def update_activity(self, activity: TaskGroupActivity) -> None:
        for_writing(self._s)
        row = (
            self._s.get(TaskGroupActivityRow, activity.id)
            if activity.id is not None
            else None
        )
        if row is None:
            raise missing("TaskGroupActivity", activity.id)
        row.task_group_id = activity.taskgroupv2_id
        row.data = dump_fields(activity, {"id"})
        self._s.flush()

    def activities(
        self, task_group_id: int | None = None
    ) -> builtins.list[TaskGroupActivity]:
        query = select(TaskGroupActivityRow).order_by(TaskGroupActivityRow.id)
        if task_group_id is not None:
            query = query.where(TaskGroupActivityRow.task_group_id == task_group_id)
        return [self._to_activity(row) for row in self._s.scalars(query)]

    def _to_group(self, row: TaskGroupRow) -> TaskGroup:
        tasks = self._s.scalars(
            select(TaskRow)
            .where(TaskRow.task_group_id == row.id)
            .order_by(TaskRow.position)
        )
        return TaskGroup.model_validate(
            {
                **row.data,
                "id": row.id,
                "task_list": [
                    {**task.data, "id": task.id, "taskgroupv2_id": row.id}
                    for task in tasks
                ],
            }
        )

    @staticmethod
    def _to_activity(row: TaskGroupActivityRow) -> TaskGroupActivity:
        data = {**row.data, "id": row.id, "taskgroupv2_id": row.task_group_id}
        return TaskGroupActivity.model_validate(data)
