"""Jobs: one execution of a slice of a workflow on a dataset."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import NonNegativeInt
from pydantic import StrictStr
from pydantic import model_validator

from ..types import AttributeFilters
from ..types import NonEmptyStr
from ..types import TypeFilters
from ..views import text as views_text
from ._time import get_timestamp
from .dataset import Dataset
from .dumps import dump_dataset
from .dumps import dump_project
from .dumps import dump_workflow
from .project import Project
from .workflow import Workflow


class JobStatus(StrEnum):
    """`submitted` (created, maybe queued), `done` or `failed`."""

    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"


JobStatusTypeV2 = JobStatus  # the reference's name


def _check_indices(first: int | None, last: int | None) -> None:
    if first is not None and last is not None and first > last:
        raise ValueError(
            f"first_task_index={first} cannot be larger than last_task_index={last}"
        )


class JobCreate(BaseModel):
    """What a user asks when submitting (`JobCreateV2`): slice, filters, SLURM bits."""

    model_config = ConfigDict(extra="forbid")

    first_task_index: NonNegativeInt | None = None
    last_task_index: NonNegativeInt | None = None
    slurm_account: StrictStr | None = None
    worker_init: NonEmptyStr | None = None
    attribute_filters: AttributeFilters = Field(default_factory=dict)
    type_filters: TypeFilters = Field(default_factory=dict)

    @model_validator(mode="after")
    def _first_not_after_last(self) -> JobCreate:
        _check_indices(self.first_task_index, self.last_task_index)
        return self

    @model_validator(mode="after")
    def _worker_init_not_null(self) -> JobCreate:
        # As `JobCreateV2.worker_init: NonEmptyStr = None`: omit it, or give text.
        if "worker_init" in self.model_fields_set and self.worker_init is None:
            raise ValueError("`worker_init` may be omitted but cannot be null.")
        return self


class Job(BaseModel):
    """A job record with the reference's field names.

    The dumps are JSON snapshots of the project, workflow and dataset taken
    at submission (`Job.for_submission` builds them). `user_email` records who
    submitted (any string the caller uses to identify users).
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    project_id: int | None = None
    workflow_id: int | None = None
    dataset_id: int | None = None
    user_email: str | None = None
    slurm_account: str | None = None
    project_dump: dict[str, Any] = Field(default_factory=dict)
    workflow_dump: dict[str, Any] = Field(default_factory=dict)
    dataset_dump: dict[str, Any] = Field(default_factory=dict)
    worker_init: str | None = None
    working_dir: str | None = None
    working_dir_user: str | None = None
    first_task_index: NonNegativeInt
    last_task_index: NonNegativeInt
    start_timestamp: AwareDatetime = Field(default_factory=get_timestamp)
    end_timestamp: AwareDatetime | None = None
    status: JobStatus = JobStatus.SUBMITTED
    log: str | None = None
    executor_error_log: str | None = None
    attribute_filters: AttributeFilters = Field(default_factory=dict)
    type_filters: TypeFilters = Field(default_factory=dict)

    @model_validator(mode="after")
    def _first_not_after_last(self) -> Job:
        _check_indices(self.first_task_index, self.last_task_index)
        return self

    @classmethod
    def for_submission(
        cls,
        *,
        project: Project,
        workflow: Workflow,
        dataset: Dataset,
        first_task_index: int,
        last_task_index: int,
        **fields: Any,
    ) -> Job:
        """A `submitted` job with ids and dumps taken from the three objects."""
        return cls(
            project_id=project.id,
            workflow_id=workflow.id,
            dataset_id=dataset.id,
            project_dump=dump_project(project),
            workflow_dump=dump_workflow(workflow),
            dataset_dump=dump_dataset(dataset),
            first_task_index=first_task_index,
            last_task_index=last_task_index,
            **fields,
        )

    @property
    def is_finished(self) -> bool:
        """True once the job is done or failed."""
        return self.status != JobStatus.SUBMITTED

    def finish(
        self,
        status: JobStatus | str,
        *,
        log: str | None = None,
        executor_error_log: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record the final status and end timestamp (and logs, when given)."""
        final = JobStatus(status)
        if final == JobStatus.SUBMITTED:
            raise ValueError("A job can only finish as 'done' or 'failed'.")
        self.status = final
        self.end_timestamp = at or get_timestamp()
        if log is not None:
            self.log = log
        if executor_error_log is not None:
            self.executor_error_log = executor_error_log

    def __repr__(self) -> str:
        return views_text.job_repr(self)

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__
