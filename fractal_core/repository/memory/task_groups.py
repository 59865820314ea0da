"""Task groups, their tasks and their activities in memory."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...domain.task import Task
from ...domain.task_group import TaskGroup
from ...domain.task_group import TaskGroupActivity
from ..base import ConflictError
from ..base import NotFoundError
from .state import Repo
from .state import copy_of
from .state import need_id

if TYPE_CHECKING:
    from .uow import MemoryUnitOfWork


def task_in(
    uow: MemoryUnitOfWork,
    index: Mapping[int, int],
    groups: dict[int, TaskGroup],
    task_id: int,
) -> Task:
    """The stored task, linked to a (cached) copy of its stored group."""
    group_id = index.get(task_id)
    if group_id is None:
        raise NotFoundError(f"Task {task_id} not found.")
    if group_id not in groups:
        groups[group_id] = copy_of(uow.t_groups.need(group_id))
    for task in groups[group_id].task_list:
        if task.id == task_id:
            return task
    raise NotFoundError(f"Task {task_id} not found.")  # pragma: no cover


class MemoryTaskGroups(Repo):
    def add(self, group: TaskGroup) -> TaskGroup:
        group_id = self.uow.new_id("task_group")
        self.uow.t_groups.put(group_id, self._stored_form(group, group_id, set()))
        return self.get(group_id)

    def get(self, task_group_id: int) -> TaskGroup:
        return copy_of(self.uow.t_groups.need(task_group_id))

    def get_task(self, task_id: int) -> Task:
        return task_in(self.uow, self.uow.task_index(), {}, task_id)

    def list(
        self,
        *,
        pkg_name: str | None = None,
        version: str | None = None,
        active: bool | None = None,
    ) -> list[TaskGroup]:
        return [
            copy_of(group)
            for group in self.uow.t_groups.rows()
            if (pkg_name is None or group.pkg_name == pkg_name)
            and (version is None or group.version == version)
            and (active is None or group.active == active)
        ]

    def update(self, group: TaskGroup) -> None:
        """Group fields and tasks: kept tasks keep their ids, new ones get
        ids, missing ones are deleted unless a workflow uses them."""
        group_id = need_id(group, "task group")
        old = self.uow.t_groups.need(group_id)
        old_ids = {task.id for task in old.task_list if task.id is not None}
        stored = self._stored_form(group, group_id, old_ids)  # type: ignore[arg-type]
        removed = old_ids - {task.id for task in stored.task_list}
        refuse_used(self.uow, removed, f"task group {group_id}")  # type: ignore[arg-type]
        self.uow.t_groups.put(group_id, stored)

    def delete(self, task_group_id: int) -> None:
        """Refused while a workflow uses one of its tasks; activities stay."""
        old = self.uow.t_groups.need(task_group_id)
        task_ids = {task.id for task in old.task_list if task.id is not None}
        refuse_used(self.uow, task_ids, f"task group {task_group_id}")  # type: ignore[arg-type]
        self.uow.t_groups.drop(task_group_id)
        for activity in self.uow.t_activities.rows():
            if activity.taskgroupv2_id == task_group_id:
                self.uow.t_activities.put(
                    activity.id,  # type: ignore[arg-type]
                    activity.model_copy(update={"taskgroupv2_id": None}),
                )

    def add_activity(self, activity: TaskGroupActivity) -> TaskGroupActivity:
        activity_id = self.uow.new_id("activity")
        stored = copy_of(activity).model_copy(update={"id": activity_id})
        self.uow.t_activities.put(activity_id, stored)
        return copy_of(stored)

    def update_activity(self, activity: TaskGroupActivity) -> None:
        activity_id = need_id(activity, "task group activity")
        self.uow.t_activities.need(activity_id)
        self.uow.t_activities.put(activity_id, copy_of(activity))

    def activities(
        self, task_group_id: int | None = None
    ) -> builtins.list[TaskGroupActivity]:
        return [
            copy_of(activity)
            for activity in self.uow.t_activities.rows()
            if task_group_id is None or activity.taskgroupv2_id == task_group_id
        ]

    def _stored_form(
        self, group: TaskGroup, group_id: int, own_task_ids: set[int]
    ) -> TaskGroup:
        tasks = []
        for task in group.task_list:
            if task.id is not None and task.id not in own_task_ids:
                raise NotFoundError(
                    f"Task {task.id} not found in task group {group_id}."
                )
            task_id = task.id if task.id is not None else self.uow.new_id("task")
            tasks.append(
                task.model_copy(
                    update={"id": task_id, "taskgroupv2_id": group_id}, deep=True
                )
            )
        stored = copy_of(group).model_copy(update={"id": group_id})
        stored.task_list = tasks  # re-links the tasks to `stored`
        return stored


def refuse_used(uow: MemoryUnitOfWork, task_ids: set[int], where: str) -> None:
    used = sorted(task_ids & uow.used_task_ids())
    if used:
        raise ConflictError(
            f"Cannot delete task(s) {used} of {where}: used by workflow tasks."
        )
