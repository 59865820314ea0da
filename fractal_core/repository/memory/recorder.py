"""`MemoryStoreRecorder`: the engine's in-memory recorder whose writes also
reach the store (images, jobs) and whose history the store can forget."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from datetime import datetime
from typing import TYPE_CHECKING

from ...domain.job import JobStatus
from ...engine.recorder import InMemoryRecorder
from ...engine.recorder import TaskApplied
from .history import MemoryHistoryReads

if TYPE_CHECKING:
    from .store import MemoryStore

logger = logging.getLogger(__name__)


class MemoryStoreRecorder(InMemoryRecorder):
    """`InMemoryRecorder` whose writes also reach the store.

    `task_applied` on a dataset the store holds replaces its images (by
    reference: the engine never modifies `TaskApplied.images` again); for a
    dataset id the store does not hold, the history is kept, no images are
    written and a warning is logged. `job_ended` and `executor_error_log` on a
    job the store holds update that job. Deleting datasets and workflows
    through the store removes their history (services.md §1.9).
    """

    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self._store = store

    def task_applied(self, event: TaskApplied) -> None:
        super().task_applied(event)
        if not self._store._set_images(event.dataset_id, event.images):
            logger.warning(
                "Dataset %r is not in the store: history of job %r recorded, "
                "its images not stored.",
                event.dataset_id,
                event.job_id,
            )
        self._store._update_job(
            event.job_id, executor_error_log=clean_text(event.executor_error_log)
        )

    def job_ended(
        self, *, job_id: Hashable, status: JobStatus, log: str, end_timestamp: datetime
    ) -> None:
        super().job_ended(
            job_id=job_id, status=status, log=log, end_timestamp=end_timestamp
        )
        self._store._update_job(
            job_id, status=JobStatus(status), log=log, end_timestamp=end_timestamp
        )

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None:
        super().executor_error_log(job_id=job_id, text=text)
        self._store._update_job(job_id, executor_error_log=clean_text(text))

    def history_reads(self) -> MemoryHistoryReads:
        """The history reads of the history services (`HistoryReads`)."""
        return MemoryHistoryReads(self, self._store._committed_images)

    def forget_image_status(self, dataset_id: Hashable, zarr_urls: list[str]) -> None:
        """Drop the image-status rows of these images for every workflow task."""
        with self._lock:
            for (ds, _wft), cache in self.image_cache.items():
                if ds == dataset_id:
                    for url in zarr_urls:
                        cache.pop(url, None)

    def forget(self, dataset_ids: set[int], workflowtask_ids: set[int]) -> None:
        """Drop the history of deleted datasets (runs, units, image status,
        images) and the image status of deleted workflow tasks (their runs
        and units stay, as in the reference)."""
        with self._lock:
            for run_id, run in list(self.runs.items()):
                if run.dataset_id in dataset_ids:
                    del self.runs[run_id]
                    for unit_id in self._units_by_run.pop(run_id, []):
                        self.units.pop(unit_id, None)
            for key in list(self.image_cache):
                if key[0] in dataset_ids or key[1] in workflowtask_ids:
                    del self.image_cache[key]
            for dataset_id in dataset_ids:
                self.dataset_images.pop(dataset_id, None)


def clean_text(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "")
