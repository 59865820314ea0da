"""Projects in memory; delete cascades to datasets and workflows."""

from __future__ import annotations

from ...domain.project import Project
from .state import Repo
from .state import copy_of
from .state import need_id
from .state import unlink_jobs


class MemoryProjects(Repo):
    def add(self, project: Project) -> Project:
        stored = copy_of(project).model_copy(update={"id": self.uow.new_id("project")})
        self.uow.t_projects.put(stored.id, stored)  # type: ignore[arg-type]
        return copy_of(stored)

    def get(self, project_id: int) -> Project:
        return copy_of(self.uow.t_projects.need(project_id))

    def list(self) -> list[Project]:
        return [copy_of(p) for p in self.uow.t_projects.rows()]

    def update(self, project: Project) -> None:
        project_id = need_id(project, "project")
        self.uow.t_projects.need(project_id)
        self.uow.t_projects.put(project_id, copy_of(project))

    def delete(self, project_id: int) -> None:
        """The project, its datasets and workflows; its jobs lose their links."""
        self.uow.t_projects.need(project_id)
        for ds in self.uow.t_datasets.rows():
            if ds.project_id == project_id:
                self.uow.datasets.delete(ds.id)  # type: ignore[arg-type]
        for wf in self.uow.t_workflows.rows():
            if wf.project_id == project_id:
                self.uow.workflows.delete(wf.id)  # type: ignore[arg-type]
        unlink_jobs(self.uow, "project_id", project_id)
        self.uow.t_projects.drop(project_id)
