"""Projects in SQL: one row each (name column, the rest as JSON); delete
cascades to datasets and workflows and drops their history."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...domain.project import Project
from .history_cleanup import forget_dataset_history
from .history_cleanup import forget_workflowtask_cache
from .models import DatasetRow
from .models import ProjectRow
from .models import WorkflowRow
from .models import WorkflowTaskRow
from .session_tools import dump_fields
from .session_tools import for_writing
from .session_tools import missing
from .session_tools import row_by_id


class SQLProjectRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, project: Project) -> Project:
        for_writing(self._s)
        row = ProjectRow(name=project.name, data=dump_fields(project, {"id"}))
        self._s.add(row)
        self._s.flush()
        return self._to_project(row)

    def get(self, project_id: int) -> Project:
        row = row_by_id(self._s, ProjectRow, project_id)
        if row is None:
            raise missing("Project", project_id)
        return self._to_project(row)

    def list(self) -> list[Project]:
        rows = self._s.scalars(select(ProjectRow).order_by(ProjectRow.id))
        return [self._to_project(row) for row in rows]

    def update(self, project: Project) -> None:
        for_writing(self._s)
        row = self._s.get(ProjectRow, project.id) if project.id is not None else None
        if row is None:
            raise missing("Project", project.id)
        row.name = project.name
        row.data = dump_fields(project, {"id"})
        self._s.flush()

    def delete(self, project_id: int) -> None:
        for_writing(self._s)
        if row_by_id(self._s, ProjectRow, project_id) is None:
            raise missing("Project", project_id)
        dataset_ids = self._s.scalars(
            select(DatasetRow.id).where(DatasetRow.project_id == project_id)
        ).all()
        for dataset_id in dataset_ids:
            forget_dataset_history(self._s, dataset_id)
        wft_ids = self._s.scalars(
            select(WorkflowTaskRow.id)
            .join(WorkflowRow, WorkflowRow.id == WorkflowTaskRow.workflow_id)
            .where(WorkflowRow.project_id == project_id)
        ).all()
        forget_workflowtask_cache(self._s, wft_ids)
        self._s.execute(delete(ProjectRow).where(ProjectRow.id == project_id))
        self._s.expunge_all()

    @staticmethod
    def _to_project(row: ProjectRow) -> Project:
        return Project.model_validate({**row.data, "id": row.id})
