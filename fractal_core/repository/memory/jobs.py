"""Jobs in memory; one `submitted` job per dataset, re-checked at commit."""

from __future__ import annotations

from typing import Any

from ...domain.job import Job
from ...domain.job import JobStatus
from ..base import ConflictError
from .state import Repo
from .state import copy_of
from .state import need_id


def check_single_submitted(jobs: Any, job: Job, job_id: int) -> None:
    if job.status != JobStatus.SUBMITTED or job.dataset_id is None:
        return
    for other in jobs:
        if (
            other.id != job_id
            and other.dataset_id == job.dataset_id
            and other.status == JobStatus.SUBMITTED
        ):
            raise ConflictError(
                f"Dataset {job.dataset_id} already has a submitted job "
                f"(job {other.id}); job {job_id} refused."
            )


class MemoryJobs(Repo):
    def add(self, job: Job) -> Job:
        for kind, table in (
            ("project_id", self.uow.t_projects),
            ("dataset_id", self.uow.t_datasets),
            ("workflow_id", self.uow.t_workflows),
        ):
            linked = getattr(job, kind)
            if linked is not None:
                table.need(linked)
        job_id = self.uow.new_id("job")
        stored = copy_of(job).model_copy(update={"id": job_id})
        check_single_submitted(self.uow.t_jobs.rows(), stored, job_id)
        self.uow.t_jobs.put(job_id, stored)
        return copy_of(stored)

    def get(self, job_id: int) -> Job:
        return copy_of(self.uow.t_jobs.need(job_id))

    def list(
        self,
        *,
        project_id: int | None = None,
        dataset_id: int | None = None,
        workflow_id: int | None = None,
        status: JobStatus | None = None,
    ) -> list[Job]:
        wanted = {
            "project_id": project_id,
            "dataset_id": dataset_id,
            "workflow_id": workflow_id,
            "status": status,
        }
        return [
            copy_of(job)
            for job in self.uow.t_jobs.rows()
            if all(v is None or getattr(job, k) == v for k, v in wanted.items())
        ]

    def update(self, job: Job) -> None:
        job_id = need_id(job, "job")
        self.uow.t_jobs.need(job_id)
        stored = copy_of(job)
        check_single_submitted(self.uow.t_jobs.rows(), stored, job_id)
        self.uow.t_jobs.put(job_id, stored)
