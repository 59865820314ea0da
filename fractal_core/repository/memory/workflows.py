"""Workflows in memory; workflow tasks are stored with their task's id and
loaded with the task as its group holds it now."""

from __future__ import annotations

from ...domain.task_group import TaskGroup
from ...domain.workflow import Workflow
from ..base import NotFoundError
from ..base import RepositoryError
from .state import Repo
from .state import copy_of
from .state import need_id
from .state import need_project
from .state import unlink_jobs
from .task_groups import task_in


class MemoryWorkflows(Repo):
    def add(self, workflow: Workflow) -> Workflow:
        need_project(self.uow, workflow.project_id, "workflow")
        workflow_id = self.uow.new_id("workflow")
        stored = self._stored_form(workflow, workflow_id, own_wft_ids=set())
        self.uow.t_workflows.put(workflow_id, stored)
        return self.get(workflow_id)

    def get(self, workflow_id: int) -> Workflow:
        return self._loaded(self.uow.t_workflows.need(workflow_id))

    def list(self, project_id: int | None = None) -> list[Workflow]:
        return [
            self._loaded(wf)
            for wf in self.uow.t_workflows.rows()
            if project_id is None or wf.project_id == project_id
        ]

    def update(self, workflow: Workflow) -> Workflow:
        """Name, description and task list; kept steps keep their ids."""
        workflow_id = need_id(workflow, "workflow")
        old = self.uow.t_workflows.need(workflow_id)
        old_ids = {wft.id for wft in old.task_list if wft.id is not None}
        given = workflow.model_copy(
            update={
                "project_id": old.project_id,
                "timestamp_created": old.timestamp_created,
            }
        )
        stored = self._stored_form(given, workflow_id, own_wft_ids=old_ids)
        kept = {wft.id for wft in stored.task_list}
        self.uow.gone_workflow_tasks.update(old_ids - kept)  # type: ignore[arg-type]
        self.uow.t_workflows.put(workflow_id, stored)
        return self.get(workflow_id)

    def delete(self, workflow_id: int) -> None:
        """The workflow and its steps (their image status goes on commit)."""
        old = self.uow.t_workflows.need(workflow_id)
        self.uow.gone_workflow_tasks.update(
            wft.id for wft in old.task_list if wft.id is not None
        )
        self.uow.t_workflows.drop(workflow_id)
        unlink_jobs(self.uow, "workflow_id", workflow_id)

    # -- helpers ------

    def _stored_form(
        self, workflow: Workflow, workflow_id: int, *, own_wft_ids: set[int]
    ) -> Workflow:
        """A private copy with ids, order and task ids checked and filled in."""
        index = self.uow.task_index()
        steps = []
        for position, wft in enumerate(workflow.task_list):
            task_id = wft.task_id if wft.task_id is not None else wft.task.id
            if task_id is None:
                raise RepositoryError(
                    f"Workflow '{workflow.name}', step {position}: task "
                    f"'{wft.task.name}' has no id; store its task group first."
                )
            if task_id not in index:
                raise NotFoundError(f"Task {task_id} not found.")
            if wft.id is not None and wft.id not in own_wft_ids:
                raise NotFoundError(
                    f"Workflow task {wft.id} not found in workflow {workflow_id}."
                )
            wft_id = wft.id if wft.id is not None else self.uow.new_id("workflowtask")
            steps.append(
                copy_of(wft).model_copy(
                    update={
                        "id": wft_id,
                        "workflow_id": workflow_id,
                        "order": position,
                        "task_id": task_id,
                    }
                )
            )
        return copy_of(workflow).model_copy(
            update={"id": workflow_id, "task_list": steps}
        )

    def _loaded(self, stored: Workflow) -> Workflow:
        """A copy whose steps embed their current tasks (linked to copies of
        their groups)."""
        groups: dict[int, TaskGroup] = {}
        index = self.uow.task_index()
        steps = []
        for wft in stored.task_list:
            task = task_in(self.uow, index, groups, wft.task_id)  # type: ignore[arg-type]
            steps.append(copy_of(wft).model_copy(update={"task": task}))
        return copy_of(stored).model_copy(update={"task_list": steps})
