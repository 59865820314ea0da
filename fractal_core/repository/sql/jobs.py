"""Jobs in SQL: the columns looked up or constrained, the rest as JSON; the
partial unique index on submitted jobs turns a lost race into ConflictError."""

from __future__ import annotations

import builtins

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...domain.job import Job
from ...domain.job import JobStatus
from ..base import ConflictError
from ..base import NotFoundError
from .models import JobRow
from .session_tools import dump_fields
from .session_tools import for_writing
from .session_tools import missing
from .session_tools import row_by_id

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
            data=dump_fields(job, _JOB_COLUMNS),
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
        row = row_by_id(self._s, JobRow, job_id)
        if row is None:
            raise missing("Job", job_id)
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
            raise missing("Job", job.id)
        nested = self._s.begin_nested()
        try:
            row.project_id, row.workflow_id = job.project_id, job.workflow_id
            row.dataset_id, row.status = job.dataset_id, job.status.value
            row.log, row.executor_error_log = job.log, job.executor_error_log
            row.end_timestamp = job.end_timestamp
            row.data = dump_fields(job, _JOB_COLUMNS)
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
