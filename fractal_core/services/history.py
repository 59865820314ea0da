"""History queries with the reference's rules (spec services.md §12,
execution.md §5.4-5.5): status per workflow task, runs, units, images with
status, logs, the dataset's history and the legacy status.

The objects are checked along the ownership chain first (project, then the
workflow task's workflow and the dataset under the project, then a named run
or unit under the given dataset and workflow task); the answers come from the
store's `HistoryReads` (`store.recorder().history_reads()`), which the SQL
store answers with counts and pages in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict

from ..domain.history import HistoryUnitStatus
from ..domain.history import HistoryUnitStatusWithUnset
from ..domain.job import Job
from ..domain.job import JobStatus
from ..domain.workflow import Workflow
from ..domain.workflow_task import WorkflowTask
from ..engine.recorder import RunRecord
from ..engine.recorder import UnitRecord
from ..engine.recorder import status_view
from ..images import IMAGE_STATUS_KEY
from ..repository.base import HistoryReads
from ..repository.base import ImagePage
from ..repository.base import NotFoundError
from ..repository.base import Page
from ..repository.base import RepositoryError
from ..repository.base import Store
from ..repository.base import UnitOfWork
from ..repository.base import check_pagination
from ..types import normalize_url
from ..types.filters import validate_filters
from . import _lookup
from ._inputs import refuse_nul
from .errors import MultipleRunningJobsError
from .errors import ServiceError
from .errors import WrongParentError

__all__ = [
    "HistoryRelationError",
    "LogNotAvailableError",
    "RunSummary",
    "dataset_history",
    "history_images",
    "history_run_units",
    "history_runs",
    "image_log",
    "legacy_status",
    "unit_log",
    "workflow_tasks_status",
]

logger = logging.getLogger(__name__)

STATUS_VALUES = [
    HistoryUnitStatusWithUnset.DONE.value,
    HistoryUnitStatusWithUnset.SUBMITTED.value,
    HistoryUnitStatusWithUnset.FAILED.value,
    HistoryUnitStatusWithUnset.UNSET.value,
]
"""Values of IMAGE_STATUS_KEY listed in the images page's `attributes`
(the reference's order)."""


class HistoryRelationError(WrongParentError):
    """A run or unit named together with parents it does not belong to."""

    def __init__(
        self,
        *,
        run_id: int,
        dataset_id: int,
        workflowtask_id: int,
        unit_id: int | None = None,
    ) -> None:
        self.run_id = run_id
        self.unit_id = unit_id
        self.dataset_id = dataset_id
        self.workflowtask_id = workflowtask_id
        if unit_id is None:
            kind, object_id, parent_kind, parent_id = (
                "history_run",
                run_id,
                "dataset",
                dataset_id,
            )
            message = (
                f"Invalid query parameters: HistoryRun[{run_id}] is not related "
                f"to dataset_id={dataset_id} and workflowtask_id={workflowtask_id}."
            )
        else:
            kind, object_id, parent_kind, parent_id = (
                "history_unit",
                unit_id,
                "history_run",
                run_id,
            )
            message = (
                f"Invalid query parameters: HistoryUnit[{unit_id}] is not related "
                f"to HistoryRun[{run_id}]"
            )
        ServiceError.__init__(self, message)
        self.kind, self.object_id = kind, object_id
        self.parent_kind, self.parent_id = parent_kind, parent_id


class LogNotAvailableError(ServiceError, LookupError):
    """A unit's log file is missing or unreadable (only with `missing_ok=False`)."""

    def __init__(self, unit_id: int, logfile: str | None, message: str) -> None:
        self.unit_id = unit_id
        self.logfile = logfile
        super().__init__(message)


@dataclass(frozen=True)
class RunSummary:
    """A run with its unit counts and, if its task still exists, the task's
    current version and argument schemas (`HistoryRunReadAggregated`)."""

    run: RunRecord
    num_submitted_units: int
    num_done_units: int
    num_failed_units: int
    task_found: bool = False
    version: str | None = None
    args_schema_parallel: dict[str, Any] | None = None
    args_schema_non_parallel: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The reference's shape: run fields, counts, task fields if found."""
        data = asdict(self.run)
        data["status"] = self.run.status.value
        data.update(
            num_submitted_units=self.num_submitted_units,
            num_done_units=self.num_done_units,
            num_failed_units=self.num_failed_units,
        )
        if self.task_found:
            data.update(
                version=self.version,
                args_schema_parallel=self.args_schema_parallel,
                args_schema_non_parallel=self.args_schema_non_parallel,
            )
        return data


class _UnitQuery(BaseModel):
    """The unit-list query: a unit status or none (names the bad value)."""

    model_config = ConfigDict(extra="forbid")
    unit_status: HistoryUnitStatus | None = None


# --- look-ups and relation checks ---------------------------------------------


def history_reads(store: Store) -> HistoryReads:
    """The store's history reads (a `RepositoryError` if it has none)."""
    reads = getattr(store.recorder(), "history_reads", None)
    if reads is None:
        raise RepositoryError(
            f"{type(store).__name__}'s recorder offers no history reads "
            "(`history_reads()`)."
        )
    found: HistoryReads = reads()
    return found


def _find_workflow_task(
    uow: UnitOfWork, project_id: int, workflowtask_id: int
) -> tuple[Workflow, WorkflowTask]:
    """The workflow task and its workflow: the project's workflows first."""
    for scope in (project_id, None):
        for workflow in uow.workflows.list(scope):
            for wftask in workflow.task_list:
                if wftask.id == workflowtask_id:
                    return workflow, wftask
    raise NotFoundError(f"WorkflowTask {workflowtask_id} not found.")


def _check_access(
    uow: UnitOfWork, project_id: int, dataset_id: int, workflowtask_id: int
) -> WorkflowTask:
    """Project, then the workflow task (its workflow under the project), then
    the dataset under the project (the reference's `get_wftask_check_owner`)."""
    _lookup.get_project(uow, project_id)
    workflow, wftask = _find_workflow_task(uow, project_id, workflowtask_id)
    if workflow.project_id != project_id:
        raise WrongParentError("workflow", workflow.id or 0, "project", project_id)
    _lookup.get_dataset(uow, project_id, dataset_id)
    return wftask


def _access(
    store: Store, project_id: int, dataset_id: int, workflowtask_id: int
) -> WorkflowTask:
    with store.unit_of_work() as uow:
        return _check_access(uow, project_id, dataset_id, workflowtask_id)


def _related_run(
    reads: HistoryReads, run_id: int, dataset_id: int, workflowtask_id: int
) -> RunRecord:
    run = reads.run(run_id)
    if run is None:
        raise NotFoundError(f"HistoryRun {run_id} not found")
    if run.dataset_id != dataset_id or run.workflowtask_id != workflowtask_id:
        raise HistoryRelationError(
            run_id=run_id, dataset_id=dataset_id, workflowtask_id=workflowtask_id
        )
    return run


def _running_job(uow: UnitOfWork, dataset_id: int, workflow_id: int) -> Job | None:
    """The one `submitted` job of (dataset, workflow), None, or an error for several."""
    jobs = uow.jobs.list(
        dataset_id=dataset_id, workflow_id=workflow_id, status=JobStatus.SUBMITTED
    )
    if len(jobs) > 1:
        raise MultipleRunningJobsError(
            dataset_id, workflow_id, sorted(job.id for job in jobs if job.id)
        )
    return jobs[0] if jobs else None


# --- status per workflow task ---------------------------------------------------


def _task_status(
    run: RunRecord | None,
    running: bool,
    running_job_id: int | None,
    counts: Mapping[str, int],
) -> dict[str, Any] | None:
    """One workflow task's entry (execution.md §5.4)."""
    if run is None:
        return {"status": HistoryUnitStatus.SUBMITTED.value} if running else None
    status = run.status.value
    if running and run.job_id != running_job_id:
        status = HistoryUnitStatus.SUBMITTED.value
    full = {s.value: counts.get(s.value, 0) for s in HistoryUnitStatus}
    return status_view(status, run.num_available_images, full)


def workflow_tasks_status(
    store: Store, project_id: int, dataset_id: int, workflow_id: int
) -> dict[int, dict[str, Any] | None]:
    """Workflow-task id -> status of the task on the dataset (the reference's
    `/status/`), in workflow order.

    `None`: never run and not part of a running job. A task in the slice of
    the running job: `{"status": "submitted"}` without counters when it has
    no run yet, its run's status when the run is the running job's, else
    "submitted" with the counters of its latest run. Counters: images whose
    latest unit has each status, and `num_available_images` of the latest
    run (None when more images have a status than it names).
    """
    with store.unit_of_work() as uow:
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        _lookup.get_dataset(uow, project_id, dataset_id)
        job = _running_job(uow, dataset_id, workflow_id)
    ids = [wftask.id for wftask in workflow.task_list if wftask.id is not None]
    running = set(ids[job.first_task_index : job.last_task_index + 1]) if job else set()
    reads = history_reads(store)
    latest = reads.latest_runs(dataset_id, ids)
    counts = reads.image_status_counts(dataset_id, [i for i in ids if i in latest])
    return {
        wft_id: _task_status(
            latest.get(wft_id),
            wft_id in running,
            None if job is None else job.id,
            counts.get(wft_id, {}),
        )
        for wft_id in ids
    }


# --- runs and units ---------------------------------------------------------------


def _task_fields(uow: UnitOfWork, task_id: Any) -> dict[str, Any]:
    """The current task's version and schemas; empty if it no longer exists."""
    if not isinstance(task_id, int):
        return {}
    try:
        task = uow.task_groups.get_task(task_id)
    except NotFoundError:
        return {}
    return {
        "task_found": True,
        "version": task.version,
        "args_schema_parallel": task.args_schema_parallel,
        "args_schema_non_parallel": task.args_schema_non_parallel,
    }


def history_runs(
    store: Store, project_id: int, dataset_id: int, workflowtask_id: int
) -> list[RunSummary]:
    """Runs of the workflow task on the dataset, oldest first (ties by id),
    with unit counts per status (0 when none)."""
    _access(store, project_id, dataset_id, workflowtask_id)
    runs = sorted(
        store.recorder().runs_of(dataset_id, workflowtask_id),
        key=lambda run: (run.timestamp_started, run.id),
    )
    counts = history_reads(store).unit_counts([run.id for run in runs])
    with store.unit_of_work() as uow:
        tasks = {run.task_id: _task_fields(uow, run.task_id) for run in runs}
    return [
        RunSummary(
            run=run,
            num_submitted_units=counts[run.id].get("submitted", 0),
            num_done_units=counts[run.id].get("done", 0),
            num_failed_units=counts[run.id].get("failed", 0),
            **tasks[run.task_id],
        )
        for run in runs
    ]


def dataset_history(store: Store, project_id: int, dataset_id: int) -> list[RunRecord]:
    """Every run on the dataset (all workflow tasks, deleted ones too), oldest
    first (ties by id)."""
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
    return history_reads(store).runs_of_dataset(dataset_id)


def history_run_units(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflowtask_id: int,
    run_id: int,
    *,
    unit_status: str | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> Page[UnitRecord]:
    """Units of a run by id, optionally of one status (unclamped page: no
    `page_size` means all; a page past the end is empty)."""
    query = _UnitQuery(unit_status=unit_status)  # type: ignore[arg-type]
    check_pagination(page, page_size)
    _access(store, project_id, dataset_id, workflowtask_id)
    reads = history_reads(store)
    _related_run(reads, run_id, dataset_id, workflowtask_id)
    status = None if query.unit_status is None else query.unit_status.value
    return reads.units_page(run_id, status=status, page=page, page_size=page_size)


# --- images with status -----------------------------------------------------------


def history_images(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflowtask_id: int,
    *,
    type_filters: Mapping[str, Any] | None = None,
    attribute_filters: Mapping[str, Any] | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> ImagePage:
    """The dataset's images with their status for the workflow task.

    Each item's attributes carry `IMAGE_STATUS_KEY` (done, submitted, failed,
    or "unset" when never processed); filter on it like any attribute.
    Sorted by zarr_url, unclamped page. `attributes` and `types` describe the
    whole dataset, `attributes[IMAGE_STATUS_KEY]` lists the four statuses.
    """
    refuse_nul(type_filters=type_filters, attribute_filters=attribute_filters)
    valid_types, valid_attributes = validate_filters(type_filters, attribute_filters)
    check_pagination(page, page_size)
    _access(store, project_id, dataset_id, workflowtask_id)
    result = history_reads(store).status_images(
        dataset_id,
        workflowtask_id,
        type_filters=valid_types,
        attribute_filters=valid_attributes,
        page=page,
        page_size=page_size,
    )
    result.attributes[IMAGE_STATUS_KEY] = list(STATUS_VALUES)
    return result


# --- logs ---------------------------------------------------------------------------


def read_unit_log(
    unit: UnitRecord, task_name: str, dataset_id: int, *, missing_ok: bool = True
) -> str:
    """The unit's log text, or the reference's placeholder when it is missing
    or unreadable (`LogNotAvailableError` instead with `missing_ok=False`)."""
    logfile = unit.logfile or None
    if logfile is None or not Path(logfile).exists():
        message = (
            f"Logs for task '{task_name}' in dataset {dataset_id} are not available."
        )
        logger.debug("%s (unit %s, logfile=%r)", message, unit.id, logfile)
    else:
        try:
            return Path(logfile).read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            message = (
                f"Error while retrieving logs for task '{task_name}' in dataset "
                f"{dataset_id}. Original error: {error}."
            )
    if not missing_ok:
        raise LogNotAvailableError(unit.id, logfile, message)
    return message


def unit_log(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflowtask_id: int,
    run_id: int,
    unit_id: int,
    *,
    missing_ok: bool = True,
) -> str:
    """The log of one unit of a run of the workflow task on the dataset."""
    wftask = _access(store, project_id, dataset_id, workflowtask_id)
    reads = history_reads(store)
    unit = reads.unit(unit_id)
    if unit is None:
        raise NotFoundError(f"HistoryUnit {unit_id} not found")
    if unit.history_run_id != run_id:
        raise HistoryRelationError(
            run_id=run_id,
            unit_id=unit_id,
            dataset_id=dataset_id,
            workflowtask_id=workflowtask_id,
        )
    _related_run(reads, run_id, dataset_id, workflowtask_id)
    return read_unit_log(unit, wftask.task.name, dataset_id, missing_ok=missing_ok)


def image_log(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflowtask_id: int,
    zarr_url: str,
    *,
    missing_ok: bool = True,
) -> str:
    """The log of the latest unit that processed the image for the workflow
    task (`zarr_url` normalised, unlike the reference: weak point 17)."""
    wftask = _access(store, project_id, dataset_id, workflowtask_id)
    unit = history_reads(store).image_unit(
        dataset_id, workflowtask_id, normalize_url(zarr_url)
    )
    if unit is None:
        raise NotFoundError("HistoryImageCache not found")
    return read_unit_log(unit, wftask.task.name, dataset_id, missing_ok=missing_ok)


# --- legacy status ----------------------------------------------------------------


def _legacy_walk(
    workflow: Workflow, statuses: Mapping[Any, str], last_valid: Any
) -> dict[str, str]:
    """Tasks in order with a status, up to the first failed or `last_valid`."""
    result: dict[str, str] = {}
    for wftask in workflow.task_list:
        status = statuses.get(wftask.id)
        if status is None:
            continue
        result[str(wftask.id)] = status
        if status == "failed" or wftask.id == last_valid:
            break
    return result


def legacy_status(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflow_id: int,
    history: Sequence[Mapping[str, Any]],
) -> dict[str, str]:
    """The reference's `status-legacy` over a pre-2.12 `DatasetV2.history`
    list (items `{"workflowtask": {"id": ...}, "status": ...}`), e.g. from an
    imported database: workflow-task id (a string) -> status."""
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        workflow = _lookup.get_workflow(uow, project_id, workflow_id)
        job = _running_job(uow, dataset_id, workflow_id)
    statuses: dict[Any, str] = {
        item["workflowtask"]["id"]: item["status"] for item in history
    }
    if job is None:
        last_valid = history[-1]["workflowtask"]["id"] if history else None
        return _legacy_walk(workflow, statuses, last_valid)
    end = job.last_task_index + 1
    in_job = workflow.task_list[job.first_task_index : end]
    recorded = [statuses.get(wftask.id) for wftask in in_job]
    first = recorded.index("submitted") if "submitted" in recorded else 0
    for wftask in in_job[first:]:
        statuses[wftask.id] = "submitted"
    if end - 1 < len(workflow.task_list):
        last_valid = workflow.task_list[end - 1].id
    else:
        logger.warning(
            "Job %s: last_task_index=%s is past the %s tasks of workflow %s.",
            job.id,
            job.last_task_index,
            len(workflow.task_list),
            workflow_id,
        )
        last_valid = None
    return _legacy_walk(workflow, statuses, last_valid)
