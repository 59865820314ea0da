"""The recorder seam: what the engine reports while a job runs, and what it asks.

The engine never touches a database. It calls a `Recorder` at each step (job
started/ended, history run started/ended, units created and finished, image
cache rows, and once per applied task a `TaskApplied` event carrying only what
changed, so a database writes O(k) rows in one transaction). Queries live in a
separate protocol, `HistoryQueries`; the engine itself needs only
`image_status`, for status-based reruns. `InMemoryRecorder` implements both; a
SQL repository implements the same protocols and passes the same contract
suite (`tests/engine/recorder_contract.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from ..domain.history import HistoryUnitStatus
from ..domain.job import JobStatus
from ..images.image_list import ImageList

__all__ = [
    "HistoryQueries",
    "HistoryStatus",
    "ImageChanges",
    "InMemoryRecorder",
    "JobStatus",
    "NewUnit",
    "Recorder",
    "RunRecord",
    "TaskApplied",
    "UnitRecord",
    "status_view",
]


HistoryStatus = HistoryUnitStatus
"""Status of a history run or unit (the domain's `HistoryUnitStatus`)."""

UNSET = "unset"


@dataclass(frozen=True)
class NewUnit:
    """A unit about to be submitted: its log file and input zarr_urls."""

    logfile: str
    zarr_urls: list[str]


@dataclass(frozen=True)
class ImageChanges:
    """What one task did to a dataset's image list, in application order.

    `created` images were appended (in this order), `updated` images replaced
    the image with the same zarr_url in place (full new content; images whose
    content did not change are left out), `removed` lists removed zarr_urls.
    The engine passes `created`/`updated` as sequences whose image dicts are
    built one at a time when read (a task touching a million images builds
    no dict unless the recorder reads them).
    """

    created: Sequence[dict[str, Any]] = field(default_factory=list)
    updated: Sequence[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.created) + len(self.updated) + len(self.removed)


@dataclass(frozen=True)
class TaskApplied:
    """Everything to persist, atomically, once a task's outputs were applied.

    `changes` is what a database writes (O(k) rows); `images` is the complete
    new image list, a copy-on-write `ImageList` that in-memory recorders may
    keep by reference (it is never modified afterwards).
    """

    job_id: Hashable
    dataset_id: Hashable
    workflowtask_id: Hashable
    run_id: int
    changes: ImageChanges
    images: ImageList
    num_tasks: int
    num_new_images: int
    executor_error_log: str | None = None


@dataclass
class RunRecord:
    """One workflow task executed in one job (`HistoryRun`)."""

    id: int
    dataset_id: Hashable
    workflowtask_id: Hashable
    job_id: Hashable
    task_id: Hashable
    workflowtask_dump: dict[str, Any]
    task_group_dump: dict[str, Any]
    num_available_images: int
    status: HistoryStatus = HistoryStatus.SUBMITTED
    timestamp_started: datetime = field(default_factory=lambda: datetime.now(UTC))
    num_tasks: int | None = None
    num_new_images: int | None = None


@dataclass(slots=True)
class UnitRecord:
    """One unit of work (`HistoryUnit`)."""

    id: int
    history_run_id: int
    logfile: str
    zarr_urls: list[str]
    status: HistoryStatus = HistoryStatus.SUBMITTED
    has_warnings: bool = False


@dataclass
class JobRecord:
    """A job as recorded: status, log, timestamps, executor error log."""

    job_id: Hashable
    working_dir: str
    dataset_id: Hashable = None
    status: JobStatus = JobStatus.SUBMITTED
    log: str | None = None
    executor_error_log: str | None = None
    start_timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_timestamp: datetime | None = None


@runtime_checkable
class Recorder(Protocol):
    """Receives the engine's events; implementations persist them.

    Calls for one job come from one thread at a time, but several jobs may
    report to the same recorder from different threads: ids handed out
    (`run_started`, `units_created`) must be unique across threads.
    """

    def job_started(
        self, *, job_id: Hashable, working_dir: str, dataset_id: Hashable = None
    ) -> None: ...

    def job_ended(
        self, *, job_id: Hashable, status: JobStatus, log: str, end_timestamp: datetime
    ) -> None: ...

    def run_started(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        job_id: Hashable,
        task_id: Hashable,
        workflowtask_dump: dict[str, Any],
        task_group_dump: dict[str, Any],
        num_available_images: int,
    ) -> int:
        """Create a `submitted` history run; return its id."""
        ...

    def run_ended(self, run_id: int, status: HistoryStatus) -> None: ...

    def units_created(self, run_id: int, units: Sequence[NewUnit]) -> list[int]:
        """Create `submitted` units (one call per batch); return their ids."""
        ...

    def units_finished(
        self,
        unit_ids: Sequence[int],
        status: HistoryStatus,
        has_warnings: Mapping[int, bool] | None = None,
    ) -> None:
        """Set the status (and warning flags) of many units at once."""
        ...

    def run_units_failed(self, run_id: int) -> None:
        """Set every unit of a run to `failed` (output-application errors)."""
        ...

    def image_cache_set(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        latest_unit: Mapping[str, int],
    ) -> None:
        """Upsert: zarr_url -> the latest unit that processed it."""
        ...

    def task_applied(self, event: TaskApplied) -> None:
        """A task's outputs were applied: persist images, cache removals, counts.

        One call per task, to be written in one transaction: the image
        changes, the removal of the image-cache rows of removed images (for
        this workflow task), the run's accounting and the executor error log.
        """
        ...

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None: ...


@runtime_checkable
class HistoryQueries(Protocol):
    """What can be asked of recorded history (the reference's status views)."""

    def image_status(
        self,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """zarr_url -> latest unit status (`"unset"` for listed urls never run)."""
        ...

    def workflow_task_status(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> dict[str, Any] | None:
        """Latest run status plus image counters, or None if never run."""
        ...

    def runs_of(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> list[RunRecord]:
        """History runs of (dataset, workflow task), oldest first."""
        ...

    def units_of(self, run_id: int) -> list[UnitRecord]:
        """Units of a run, by id."""
        ...

    def images_of(self, dataset_id: Hashable) -> list[dict[str, Any]] | None:
        """The dataset's image list as last persisted (None if never written)."""
        ...

    def job(self, job_id: Hashable) -> JobRecord:
        """The recorded job; KeyError if unknown."""
        ...


def status_view(
    run_status: str, num_available_images: int, counts: Mapping[str, int]
) -> dict[str, Any]:
    """The reference's per-task status: latest run status and image counters.

    `counts` maps unit statuses to image counts; `num_available_images` is
    reported as None when more images have a status than were available (the
    image list changed since the run).
    """
    num_available: int | None = num_available_images
    if sum(counts.values()) > num_available_images:
        num_available = None
    return {
        "status": run_status,
        "num_available_images": num_available,
        "num_submitted_images": counts.get("submitted", 0),
        "num_done_images": counts.get("done", 0),
        "num_failed_images": counts.get("failed", 0),
    }


class InMemoryRecorder:
    """A `Recorder` keeping everything in memory, with the reference's queries.

    Thread-safe: several jobs may report to one instance from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.jobs: dict[Hashable, JobRecord] = {}
        self.runs: dict[int, RunRecord] = {}
        self.units: dict[int, UnitRecord] = {}
        self._units_by_run: dict[int, list[int]] = {}
        # (dataset_id, workflowtask_id) -> zarr_url -> latest unit id
        self.image_cache: dict[tuple[Hashable, Hashable], dict[str, int]] = {}
        self.dataset_images: dict[Hashable, ImageList] = {}
        self.accounting_records: list[dict[str, Any]] = []

    # --- Recorder protocol ---------------------------------------------------

    def job_started(
        self, *, job_id: Hashable, working_dir: str, dataset_id: Hashable = None
    ) -> None:
        with self._lock:
            self.jobs[job_id] = JobRecord(
                job_id=job_id, working_dir=working_dir, dataset_id=dataset_id
            )

    def job_ended(
        self, *, job_id: Hashable, status: JobStatus, log: str, end_timestamp: datetime
    ) -> None:
        with self._lock:
            job = self.jobs.setdefault(job_id, JobRecord(job_id=job_id, working_dir=""))
            job.status = JobStatus(status)
            job.log = log
            job.end_timestamp = end_timestamp

    def run_started(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        job_id: Hashable,
        task_id: Hashable,
        workflowtask_dump: dict[str, Any],
        task_group_dump: dict[str, Any],
        num_available_images: int,
    ) -> int:
        with self._lock:
            run_id = len(self.runs) + 1
            self.runs[run_id] = RunRecord(
                id=run_id,
                dataset_id=dataset_id,
                workflowtask_id=workflowtask_id,
                job_id=job_id,
                task_id=task_id,
                workflowtask_dump=workflowtask_dump,
                task_group_dump=task_group_dump,
                num_available_images=num_available_images,
            )
            self._units_by_run[run_id] = []
        return run_id

    def run_ended(self, run_id: int, status: HistoryStatus) -> None:
        with self._lock:
            self.runs[run_id].status = HistoryStatus(status)

    def units_created(self, run_id: int, units: Sequence[NewUnit]) -> list[int]:
        with self._lock:
            first = len(self.units) + 1
            ids = list(range(first, first + len(units)))
            for unit_id, unit in zip(ids, units, strict=True):
                self.units[unit_id] = UnitRecord(
                    id=unit_id,
                    history_run_id=run_id,
                    logfile=unit.logfile,
                    zarr_urls=list(unit.zarr_urls),
                )
            self._units_by_run.setdefault(run_id, []).extend(ids)
        return ids

    def units_finished(
        self,
        unit_ids: Sequence[int],
        status: HistoryStatus,
        has_warnings: Mapping[int, bool] | None = None,
    ) -> None:
        status = HistoryStatus(status)
        with self._lock:
            for unit_id in unit_ids:
                unit = self.units[unit_id]
                unit.status = status
                if has_warnings is not None and unit_id in has_warnings:
                    unit.has_warnings = has_warnings[unit_id]

    def run_units_failed(self, run_id: int) -> None:
        with self._lock:
            for unit_id in self._units_by_run.get(run_id, []):
                self.units[unit_id].status = HistoryStatus.FAILED

    def image_cache_set(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        latest_unit: Mapping[str, int],
    ) -> None:
        with self._lock:
            self.image_cache.setdefault((dataset_id, workflowtask_id), {}).update(
                latest_unit
            )

    def task_applied(self, event: TaskApplied) -> None:
        with self._lock:
            self.dataset_images[event.dataset_id] = event.images
            if event.changes.removed:
                cache = self.image_cache.get(
                    (event.dataset_id, event.workflowtask_id), {}
                )
                for zarr_url in event.changes.removed:
                    cache.pop(zarr_url, None)
            run = self.runs.get(event.run_id)
            if run is not None:
                run.num_tasks = event.num_tasks
                run.num_new_images = event.num_new_images
            self.accounting_records.append(
                {
                    "job_id": event.job_id,
                    "num_tasks": event.num_tasks,
                    "num_new_images": event.num_new_images,
                }
            )
            self._set_error_log(event.job_id, event.executor_error_log)

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None:
        with self._lock:
            self._set_error_log(job_id, text)

    def _set_error_log(self, job_id: Hashable, text: str | None) -> None:
        if job_id in self.jobs:
            self.jobs[job_id].executor_error_log = (
                None if text is None else text.replace("\x00", "")
            )

    # --- queries (HistoryQueries) ----------------------------------------------

    def runs_of(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> list[RunRecord]:
        """History runs of (dataset, workflow task), oldest first."""
        with self._lock:
            return [
                run
                for run in self.runs.values()
                if run.dataset_id == dataset_id
                and run.workflowtask_id == workflowtask_id
            ]

    def units_of(self, run_id: int) -> list[UnitRecord]:
        """Units of a run, by id."""
        with self._lock:
            return [self.units[uid] for uid in self._units_by_run.get(run_id, [])]

    def num_units_with_warnings(self, run_id: int) -> int:
        """How many units of the run have `has_warnings` (2.23.2+)."""
        return sum(u.has_warnings for u in self.units_of(run_id))

    def images_of(self, dataset_id: Hashable) -> list[dict[str, Any]] | None:
        """The dataset's image list after the last applied task (a copy)."""
        with self._lock:
            images = self.dataset_images.get(dataset_id)
        return None if images is None else images.to_list()

    def image_status(
        self,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """zarr_url -> status of its latest unit for this workflow task.

        With `zarr_urls`, every listed url is present (`"unset"` if never run).
        """
        with self._lock:
            found = {
                url: self.units[unit_id].status.value
                for url, unit_id in self.image_cache.get(
                    (dataset_id, workflowtask_id), {}
                ).items()
            }
        if zarr_urls is None:
            return found
        return {url: found.get(url, UNSET) for url in zarr_urls}

    def workflow_task_status(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> dict[str, Any] | None:
        """Latest run status plus image counters, as the reference's status view."""
        runs = self.runs_of(dataset_id, workflowtask_id)
        if not runs:
            return None
        latest = runs[-1]
        counts = {s.value: 0 for s in HistoryStatus}
        for status in self.image_status(dataset_id, workflowtask_id).values():
            counts[status] += 1
        return status_view(latest.status.value, latest.num_available_images, counts)

    def job(self, job_id: Hashable) -> JobRecord:
        """The recorded job (status, log, timestamps, executor error log)."""
        with self._lock:
            return self.jobs[job_id]
