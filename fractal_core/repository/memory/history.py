"""`HistoryReads` of the in-memory store, over its recorder's dictionaries.

Every read holds the recorder's lock (job threads record while others read)
and returns copies of records, never the recorder's own objects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...engine.recorder import InMemoryRecorder
from ...engine.recorder import RunRecord
from ...engine.recorder import UnitRecord
from ...images.image_list import ImageList
from ..base import ImagePage
from ..base import Page
from ..history_common import status_image_page
from ..history_common import window_of

__all__ = ["MemoryHistoryReads"]


def _unit_copy(unit: UnitRecord) -> UnitRecord:
    return replace(unit, zarr_urls=list(unit.zarr_urls))


def _latest_key(run: RunRecord) -> tuple[Any, int]:
    return (run.timestamp_started, run.id)


class MemoryHistoryReads:
    """History reads computed in Python from an `InMemoryRecorder`."""

    def __init__(
        self,
        recorder: InMemoryRecorder,
        images_of: Callable[[int], ImageList | None],
    ) -> None:
        self._rec = recorder
        self._images_of = images_of

    def run(self, run_id: int) -> RunRecord | None:
        """A copy of the run, or None."""
        with self._rec._lock:
            run = self._rec.runs.get(run_id)
            return None if run is None else replace(run)

    def unit(self, unit_id: int) -> UnitRecord | None:
        """A copy of the unit, or None."""
        with self._rec._lock:
            unit = self._rec.units.get(unit_id)
            return None if unit is None else _unit_copy(unit)

    def _runs(self, dataset_id: Hashable) -> list[RunRecord]:
        with self._rec._lock:
            runs = [
                replace(run)
                for run in self._rec.runs.values()
                if run.dataset_id == dataset_id
            ]
        return sorted(runs, key=_latest_key)

    def latest_runs(
        self, dataset_id: Hashable, workflowtask_ids: Sequence[Hashable]
    ) -> dict[Hashable, RunRecord]:
        """Latest run per workflow task (by start time, then id)."""
        wanted = set(workflowtask_ids)
        latest: dict[Hashable, RunRecord] = {}
        for run in self._runs(dataset_id):
            if run.workflowtask_id in wanted:
                latest[run.workflowtask_id] = run
        return latest

    def image_status_counts(
        self, dataset_id: Hashable, workflowtask_ids: Sequence[Hashable]
    ) -> dict[Hashable, dict[str, int]]:
        """Cached images per latest-unit status, per workflow task."""
        counts: dict[Hashable, dict[str, int]] = {}
        with self._rec._lock:
            for wft_id in workflowtask_ids:
                cache = self._rec.image_cache.get((dataset_id, wft_id), {})
                found = Counter(
                    self._rec.units[unit_id].status.value for unit_id in cache.values()
                )
                counts[wft_id] = dict(found)
        return counts

    def runs_of_dataset(self, dataset_id: Hashable) -> list[RunRecord]:
        """Every run on the dataset, oldest first."""
        return self._runs(dataset_id)

    def _units(self, run_id: int) -> list[UnitRecord]:
        return [_unit_copy(unit) for unit in self._rec.units_of(run_id)]

    def unit_counts(self, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Units per status, per run."""
        return {
            run_id: dict(Counter(u.status.value for u in self._units(run_id)))
            for run_id in run_ids
        }

    def units_page(
        self,
        run_id: int,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[UnitRecord]:
        """Units of the run by id, optionally of one status."""
        units = sorted(self._units(run_id), key=lambda unit: unit.id)
        if status is not None:
            units = [unit for unit in units if unit.status == status]
        items, shown, size = window_of(units, page, page_size)
        return Page(items=items, total_count=len(units), page=shown, page_size=size)

    def image_unit(
        self, dataset_id: Hashable, workflowtask_id: Hashable, zarr_url: str
    ) -> UnitRecord | None:
        """The unit the image cache points to, or None."""
        with self._rec._lock:
            cache = self._rec.image_cache.get((dataset_id, workflowtask_id), {})
            unit_id = cache.get(zarr_url)
        return None if unit_id is None else self.unit(unit_id)

    def status_images(
        self,
        dataset_id: int,
        workflowtask_id: Hashable,
        *,
        type_filters: Mapping[str, bool],
        attribute_filters: Mapping[str, Sequence[Any]],
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage:
        """The dataset's committed images with their status (Python)."""
        stored = self._images_of(dataset_id)
        images = [] if stored is None else stored.to_list()
        statuses = self._rec.image_status(dataset_id, workflowtask_id)
        return status_image_page(
            images,
            statuses.items(),
            type_filters=type_filters,
            attribute_filters=attribute_filters,
            page=page,
            page_size=page_size,
        )
