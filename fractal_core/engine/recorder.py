"""The recorder seam: what the engine reports while a job runs.

The engine never touches a database. It calls a `Recorder` at each step (job
started/ended, history run started/ended, units created and finished, image
cache rows, dataset images written, accounting, executor error log); the
in-memory implementation below keeps everything in dicts and answers the
reference's status queries. A SQL repository implements the same protocol.
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

__all__ = [
    "HistoryStatus",
    "InMemoryRecorder",
    "JobStatus",
    "NewUnit",
    "Recorder",
    "RunRecord",
    "UnitRecord",
]


HistoryStatus = HistoryUnitStatus
"""Status of a history run or unit (the domain's `HistoryUnitStatus`)."""

UNSET = "unset"


@dataclass(frozen=True)
class NewUnit:
    """A unit about to be submitted: its log file and input zarr_urls."""

    logfile: str
    zarr_urls: list[str]


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


@dataclass
class UnitRecord:
    """One unit of work (`HistoryUnit`)."""

    id: int
    history_run_id: int
    logfile: str
    zarr_urls: list[str]
    status: HistoryStatus = HistoryStatus.SUBMITTED
    has_warnings: bool = False


@runtime_checkable
class Recorder(Protocol):
    """Receives the engine's events; implementations persist them."""

    def job_started(self, *, job_id: Hashable, working_dir: str) -> None: ...

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

    def image_cache_remove(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str],
    ) -> None: ...

    def images_written(
        self, *, dataset_id: Hashable, images: list[dict[str, Any]]
    ) -> None:
        """The dataset's image list after a task (to persist)."""
        ...

    def accounting(
        self, *, job_id: Hashable, num_tasks: int, num_new_images: int
    ) -> None: ...

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None: ...

    def image_status(
        self,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """zarr_url -> latest unit status (`"unset"` for listed urls never run)."""
        ...


@dataclass
class _JobRecord:
    job_id: Hashable
    working_dir: str
    status: JobStatus = JobStatus.SUBMITTED
    log: str | None = None
    executor_error_log: str | None = None
    start_timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    end_timestamp: datetime | None = None


class InMemoryRecorder:
    """A `Recorder` keeping everything in memory, with the reference's queries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[Hashable, _JobRecord] = {}
        self.runs: dict[int, RunRecord] = {}
        self.units: dict[int, UnitRecord] = {}
        # (dataset_id, workflowtask_id) -> zarr_url -> latest unit id
        self.image_cache: dict[tuple[Hashable, Hashable], dict[str, int]] = {}
        self.dataset_images: dict[Hashable, list[dict[str, Any]]] = {}
        self.accounting_records: list[dict[str, Any]] = []

    # --- Recorder protocol ---------------------------------------------------

    def job_started(self, *, job_id: Hashable, working_dir: str) -> None:
        self.jobs[job_id] = _JobRecord(job_id=job_id, working_dir=working_dir)

    def job_ended(
        self, *, job_id: Hashable, status: JobStatus, log: str, end_timestamp: datetime
    ) -> None:
        job = self.jobs.setdefault(job_id, _JobRecord(job_id=job_id, working_dir=""))
        job.status = status
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
        return run_id

    def run_ended(self, run_id: int, status: HistoryStatus) -> None:
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
        return ids

    def units_finished(
        self,
        unit_ids: Sequence[int],
        status: HistoryStatus,
        has_warnings: Mapping[int, bool] | None = None,
    ) -> None:
        for unit_id in unit_ids:
            unit = self.units[unit_id]
            unit.status = HistoryStatus(status)
            if has_warnings is not None and unit_id in has_warnings:
                unit.has_warnings = has_warnings[unit_id]

    def run_units_failed(self, run_id: int) -> None:
        for unit in self.units.values():
            if unit.history_run_id == run_id:
                unit.status = HistoryStatus.FAILED

    def image_cache_set(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        latest_unit: Mapping[str, int],
    ) -> None:
        self.image_cache.setdefault((dataset_id, workflowtask_id), {}).update(
            latest_unit
        )

    def image_cache_remove(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str],
    ) -> None:
        cache = self.image_cache.get((dataset_id, workflowtask_id), {})
        for zarr_url in zarr_urls:
            cache.pop(zarr_url, None)

    def images_written(
        self, *, dataset_id: Hashable, images: list[dict[str, Any]]
    ) -> None:
        self.dataset_images[dataset_id] = images

    def accounting(
        self, *, job_id: Hashable, num_tasks: int, num_new_images: int
    ) -> None:
        self.accounting_records.append(
            {"job_id": job_id, "num_tasks": num_tasks, "num_new_images": num_new_images}
        )

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None:
        if job_id in self.jobs:
            self.jobs[job_id].executor_error_log = (
                None if text is None else text.replace("\x00", "")
            )

    # --- queries ---------------------------------------------------------------

    def runs_of(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> list[RunRecord]:
        """History runs of (dataset, workflow task), oldest first."""
        return [
            run
            for run in self.runs.values()
            if run.dataset_id == dataset_id and run.workflowtask_id == workflowtask_id
        ]

    def units_of(self, run_id: int) -> list[UnitRecord]:
        """Units of a run, by id."""
        return [u for u in self.units.values() if u.history_run_id == run_id]

    def num_units_with_warnings(self, run_id: int) -> int:
        """How many units of the run have `has_warnings` (2.23.2+)."""
        return sum(u.has_warnings for u in self.units_of(run_id))

    def image_status(
        self,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str] | None = None,
    ) -> dict[str, str]:
        """zarr_url -> status of its latest unit for this workflow task.

        With `zarr_urls`, every listed url is present (`"unset"` if never run).
        """
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
        num_available: int | None = latest.num_available_images
        if sum(counts.values()) > latest.num_available_images:
            num_available = None
        return {
            "status": latest.status.value,
            "num_available_images": num_available,
            "num_submitted_images": counts["submitted"],
            "num_done_images": counts["done"],
            "num_failed_images": counts["failed"],
        }

    def job(self, job_id: Hashable) -> _JobRecord:
        """The recorded job (status, log, timestamps, executor error log)."""
        return self.jobs[job_id]
