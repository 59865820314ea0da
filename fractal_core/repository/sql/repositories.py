"""The five aggregate repositories over one SQLAlchemy `Session`.

Each method maps domain objects to rows and back (`_to_*` helpers), never
handing out a row: callers get fresh pydantic objects. Statements run on the
unit of work's session and become visible to others only on its commit.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...domain.dataset import Dataset
from ...domain.job import Job
from ...domain.job import JobStatus
from ...domain.project import Project
from ...domain.task import Task
from ...domain.task_group import TaskGroup
from ...domain.task_group import TaskGroupActivity
from ...domain.workflow import Workflow
from ...engine.recorder import ImageChanges
from ...images.image_list import ImageList
from ...images.tools import aggregate_attributes
from ...images.tools import aggregate_types
from ...images.tools import match_filter
from ...types.filters import validate_filters
from ..base import ConflictError
from ..base import ImagePage
from ..base import NotFoundError
from ..base import RepositoryError
from ..base import clamped_page
from . import images as image_rows
from .connect import BEGIN_OPTION
from .connect import TRANSACTION_OPEN
from .connect import WRITING
from .history_cleanup import forget_dataset_history
from .history_cleanup import forget_image_status
from .history_cleanup import forget_workflowtask_cache
from .models import DatasetRow
from .models import JobRow
from .models import ProjectRow
from .models import TaskGroupActivityRow
from .models import TaskGroupRow
from .models import TaskRow
from .models import WorkflowRow
from .models import WorkflowTaskRow


def for_writing(session: Session) -> None:
    """Make sure the session's transaction may write without a lock upgrade.

    On SQLite a unit of work reads in a deferred transaction (readers never
    wait for writers). Its first write takes the write lock at BEGIN
    (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout.
    When only reads ran so far, that read transaction is ended first and a
    write transaction begun: upgrading a read snapshot that another process
    has since overtaken fails at once in WAL mode, and restarting gives the
    same "read committed" view PostgreSQL gives by default. PostgreSQL
    needs none of this.
    """
    if session.info.get(WRITING):
        return
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        if session.info.get(TRANSACTION_OPEN):
            session.rollback()  # nothing was written in it (WRITING unset)
        session.connection(execution_options={BEGIN_OPTION: "IMMEDIATE"})
    session.info[WRITING] = True


def _missing(kind: str, object_id: Any) -> NotFoundError:
    return NotFoundError(f"{kind} {object_id} not found.")


def _dump(model: Any, exclude: set[str]) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude=exclude)
    return data


# --- projects ------------------------------------------------------------------


class SQLProjectRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, project: Project) -> Project:
        for_writing(self._s)
        row = ProjectRow(name=project.name, data=_dump(project, {"id"}))
        self._s.add(row)
        self._s.flush()
        return self._to_project(row)

    def get(self, project_id: int) -> Project:
        row = self._s.get(ProjectRow, project_id)
        if row is None:
            raise _missing("Project", project_id)
        return self._to_project(row)

    def list(self) -> list[Project]:
        rows = self._s.scalars(select(ProjectRow).order_by(ProjectRow.id))
        return [self._to_project(row) for row in rows]

    def update(self, project: Project) -> None:
        for_writing(self._s)
        row = self._s.get(ProjectRow, project.id) if project.id is not None else None
        if row is None:
            raise _missing("Project", project.id)
        row.name = project.name
        row.data = _dump(project, {"id"})
        self._s.flush()

    def delete(self, project_id: int) -> None:
        for_writing(self._s)
        if self._s.get(ProjectRow, project_id) is None:
            raise _missing("Project", project_id)
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


# --- datasets and their images ---------------------------------------------------


class SQLDatasetRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _conn(self) -> Any:
        return self._s.connection()

    def _row(self, dataset_id: int) -> DatasetRow:
        row = self._s.get(DatasetRow, dataset_id)
        if row is None:
            raise _missing("Dataset", dataset_id)
        return row

    def add(self, dataset: Dataset) -> Dataset:
        for_writing(self._s)
        row = DatasetRow(
            project_id=dataset.project_id,
            name=dataset.name,
            zarr_dir=dataset.zarr_dir,
            timestamp_created=dataset.timestamp_created,
            next_position=0,
        )
        self._s.add(row)
        try:
            self._s.flush()
        except IntegrityError as error:
            raise NotFoundError(
                f"Dataset {dataset.name!r}: project {dataset.project_id} not found."
            ) from error
        image_rows.insert_images(
            self._conn(), image_rows.DATASET_IMAGES, row.id, dataset.images.to_list()
        )
        self._s.expire(row)
        return self.get(row.id)

    def get(self, dataset_id: int, *, with_images: bool = True) -> Dataset:
        row = self._row(dataset_id)
        images = self.images(dataset_id) if with_images else ImageList()
        return self._to_dataset(row, images)

    def list(self, project_id: int | None = None) -> list[Dataset]:
        query = select(DatasetRow).order_by(DatasetRow.id)
        if project_id is not None:
            query = query.where(DatasetRow.project_id == project_id)
        return [self._to_dataset(row, ImageList()) for row in self._s.scalars(query)]

    def update(self, dataset: Dataset) -> None:
        for_writing(self._s)
        if dataset.id is None:
            raise _missing("Dataset", None)
        row = self._row(dataset.id)
        row.name = dataset.name
        row.zarr_dir = dataset.zarr_dir
        self._s.flush()

    def delete(self, dataset_id: int) -> None:
        for_writing(self._s)
        self._row(dataset_id)
        forget_dataset_history(self._s, dataset_id)
        self._s.execute(delete(DatasetRow).where(DatasetRow.id == dataset_id))
        self._s.expunge_all()

    def images(self, dataset_id: int) -> ImageList:
        self._row(dataset_id)
        return image_rows.read_images(
            self._conn(), image_rows.DATASET_IMAGES, dataset_id
        )

    def query_images(
        self,
        dataset_id: int,
        *,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
        zarr_url: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage:
        """The reference's image query: aggregates over the whole dataset,
        exact zarr_url match, filters (in SQL where expressible), clamped page."""
        self._row(dataset_id)
        conn = self._conn()
        where = image_rows.DATASET_IMAGES
        t = where.table
        valid_types, valid_attributes = validate_filters(
            type_filters, attribute_filters
        )
        everything = [
            {"attributes": a, "types": ty}
            for a, ty in conn.execute(
                select(t.c.attributes, t.c.types)
                .where(t.c.dataset_id == dataset_id)
                .order_by(t.c.position)
            )
        ]
        conditions, left_types, left_attributes = image_rows.sql_filters(
            conn.dialect.name, where, valid_types, valid_attributes
        )
        query = select(t.c.zarr_url, t.c.origin, t.c.attributes, t.c.types).where(
            t.c.dataset_id == dataset_id, *conditions
        )
        if zarr_url is not None:
            # The first image with exactly this zarr_url (unique per dataset).
            query = query.where(t.c.zarr_url == zarr_url)
        query = query.order_by(t.c.position)
        if left_types or left_attributes:
            # Keys SQLite's JSON paths cannot name: finish the filter in Python.
            selected = [
                image
                for image in map(image_rows.row_to_image, conn.execute(query))
                if match_filter(
                    image=image,
                    type_filters=left_types,
                    attribute_filters=left_attributes,
                )
            ]
            total = len(selected)
            window = clamped_page(total, page, page_size)
            items = selected[window.offset : window.offset + window.page_size]
        else:
            total = int(
                conn.scalar(select(func.count()).select_from(query.subquery())) or 0
            )
            window = clamped_page(total, page, page_size)
            items = [
                image_rows.row_to_image(row)
                for row in conn.execute(
                    query.offset(window.offset).limit(window.page_size)
                )
            ]
        return ImagePage(
            items=items,
            total_count=total,
            page=window.page,
            page_size=window.page_size,
            attributes=aggregate_attributes(everything),
            types=aggregate_types(everything),
        )

    def apply_image_changes(self, dataset_id: int, changes: ImageChanges) -> None:
        for_writing(self._s)
        self._row(dataset_id)
        image_rows.apply_changes(
            self._conn(), image_rows.DATASET_IMAGES, dataset_id, changes
        )

    def replace_images(self, dataset_id: int, images: ImageList) -> None:
        for_writing(self._s)
        self._row(dataset_id)
        image_rows.replace_all(
            self._conn(), image_rows.DATASET_IMAGES, dataset_id, images.to_list()
        )

    def forget_image_status(self, dataset_id: int, zarr_urls: Sequence[str]) -> None:
        """Drop the history status of these images for every workflow task."""
        for_writing(self._s)
        self._row(dataset_id)
        forget_image_status(self._s, dataset_id, list(zarr_urls))

    @staticmethod
    def _to_dataset(row: DatasetRow, images: ImageList) -> Dataset:
        return Dataset.model_construct(
            id=row.id,
            name=row.name,
            project_id=row.project_id,
            zarr_dir=row.zarr_dir,
            images=images,
            timestamp_created=row.timestamp_created,
        )


# --- task groups -------------------------------------------------------------


class SQLTaskGroupRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _row(self, task_group_id: int) -> TaskGroupRow:
        row = self._s.get(TaskGroupRow, task_group_id)
        if row is None:
            raise _missing("TaskGroup", task_group_id)
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
            data = _dump(task, {"id", "taskgroupv2_id"})
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
            data=_dump(group, {"id", "task_list"}),
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
        row = self._s.get(TaskRow, task_id)
        if row is None:
            raise _missing("Task", task_id)
        group = self.get(row.task_group_id)
        for task in group.task_list:
            if task.id == task_id:
                return task
        raise _missing("Task", task_id)  # pragma: no cover - same transaction

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
            raise _missing("TaskGroup", None)
        row = self._row(group.id)
        row.pkg_name, row.version, row.active = (
            group.pkg_name,
            group.version,
            group.active,
        )
        row.data = _dump(group, {"id", "task_list"})
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
            task_group_id=activity.taskgroupv2_id, data=_dump(activity, {"id"})
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
            raise _missing("TaskGroupActivity", activity.id)
        row.task_group_id = activity.taskgroupv2_id
        row.data = _dump(activity, {"id"})
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


# --- workflows ---------------------------------------------------------------------


class SQLWorkflowRepository:
    def __init__(self, session: Session, task_groups: SQLTaskGroupRepository) -> None:
        self._s = session
        self._groups = task_groups

    def _row(self, workflow_id: int) -> WorkflowRow:
        row = self._s.get(WorkflowRow, workflow_id)
        if row is None:
            raise _missing("Workflow", workflow_id)
        return row

    def add(self, workflow: Workflow) -> Workflow:
        for_writing(self._s)
        self._check_tasks(workflow)
        row = WorkflowRow(
            project_id=workflow.project_id,
            name=workflow.name,
            data=_dump(workflow, {"id", "task_list", "project_id"}),
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
            data = _dump(wftask, {"id", "workflow_id", "order"})
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
            raise _missing("Workflow", None)
        row = self._row(workflow.id)
        row.name = workflow.name
        row.project_id = workflow.project_id
        row.data = _dump(workflow, {"id", "task_list", "project_id"})
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


# --- jobs -----------------------------------------------------------------------

_JOB_COLUMNS = {
    "id",
    "project_id",
    "workflow_id",
    "dataset_id",
    "status",
    "log",
    "executor_error_log",
    "end_timestamp",
}


class SQLJobRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, job: Job) -> Job:
        for_writing(self._s)
        row = JobRow(
            project_id=job.project_id,
            workflow_id=job.workflow_id,
            dataset_id=job.dataset_id,
            status=job.status.value,
            log=job.log,
            executor_error_log=job.executor_error_log,
            end_timestamp=job.end_timestamp,
            data=_dump(job, _JOB_COLUMNS),
        )
        nested = self._s.begin_nested()
        try:
            self._s.add(row)
            self._s.flush()
        except IntegrityError as error:
            nested.rollback()
            raise self._conflict(job) from error
        nested.commit()
        return self._to_job(row)

    def _conflict(self, job: Job) -> ConflictError | NotFoundError:
        if job.status == JobStatus.SUBMITTED and job.dataset_id is not None:
            running = self._s.scalars(
                select(JobRow.id).where(
                    JobRow.dataset_id == job.dataset_id,
                    JobRow.status == JobStatus.SUBMITTED.value,
                )
            ).all()
            if running:
                return ConflictError(
                    f"Dataset {job.dataset_id} already has a submitted job "
                    f"(job {running[0]}); status='submitted' refused for a new job."
                )
        return NotFoundError(
            f"Job refused: project {job.project_id}, workflow {job.workflow_id} "
            f"or dataset {job.dataset_id} not found."
        )

    def get(self, job_id: int) -> Job:
        row = self._s.get(JobRow, job_id)
        if row is None:
            raise _missing("Job", job_id)
        return self._to_job(row)

    def list(
        self,
        *,
        project_id: int | None = None,
        dataset_id: int | None = None,
        workflow_id: int | None = None,
        status: JobStatus | None = None,
    ) -> builtins.list[Job]:
        query = select(JobRow).order_by(JobRow.id)
        if project_id is not None:
            query = query.where(JobRow.project_id == project_id)
        if dataset_id is not None:
            query = query.where(JobRow.dataset_id == dataset_id)
        if workflow_id is not None:
            query = query.where(JobRow.workflow_id == workflow_id)
        if status is not None:
            query = query.where(JobRow.status == JobStatus(status).value)
        return [self._to_job(row) for row in self._s.scalars(query)]

    def update(self, job: Job) -> None:
        for_writing(self._s)
        row = self._s.get(JobRow, job.id) if job.id is not None else None
        if row is None:
            raise _missing("Job", job.id)
        nested = self._s.begin_nested()
        try:
            row.project_id, row.workflow_id = job.project_id, job.workflow_id
            row.dataset_id, row.status = job.dataset_id, job.status.value
            row.log, row.executor_error_log = job.log, job.executor_error_log
            row.end_timestamp = job.end_timestamp
            row.data = _dump(job, _JOB_COLUMNS)
            self._s.flush()
        except IntegrityError as error:
            nested.rollback()
            raise self._conflict(job) from error
        nested.commit()

    @staticmethod
    def _to_job(row: JobRow) -> Job:
        return Job.model_validate(
            {
                **row.data,
                "id": row.id,
                "project_id": row.project_id,
                "workflow_id": row.workflow_id,
                "dataset_id": row.dataset_id,
                "status": row.status,
                "log": row.log,
                "executor_error_log": row.executor_error_log,
                "end_timestamp": row.end_timestamp,
            }
        )


def count_rows(session: Session, model: Any) -> int:
    """How many rows a table holds (tests and diagnostics)."""
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
