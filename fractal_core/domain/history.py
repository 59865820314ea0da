"""History records: runs (one per executed workflow task), units, image cache."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from ._time import get_timestamp

WARNING_MARKER = b"warning"
"""Case-insensitive substring that flags a unit log (upstream 2.23.2 grep)."""

_CHUNK = 1 << 20


class HistoryUnitStatus(StrEnum):
    """Status of a unit (and of a run)."""

    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"


class HistoryUnitStatusWithUnset(StrEnum):
    """Status of an image for a workflow task; `unset` = never processed."""

    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"
    UNSET = "unset"


class HistoryRun(BaseModel):
    """One workflow task executed within a job, with dumps that outlive it."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    dataset_id: int | None = None
    workflowtask_id: int | None = None
    job_id: int | None = None
    task_id: int | None = None
    workflowtask_dump: dict[str, Any] = Field(default_factory=dict)
    task_group_dump: dict[str, Any] = Field(default_factory=dict)
    timestamp_started: AwareDatetime = Field(default_factory=get_timestamp)
    status: HistoryUnitStatus = HistoryUnitStatus.SUBMITTED
    num_available_images: int = 0


class HistoryUnit(BaseModel):
    """One executor unit: its log file, status, images and warning flag."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    history_run_id: int | None = None
    logfile: str | None = None
    status: HistoryUnitStatus = HistoryUnitStatus.SUBMITTED
    zarr_urls: list[str] = Field(default_factory=list)
    has_warnings: bool = False


class HistoryImageCache(BaseModel):
    """Latest unit that touched an image for a (dataset, workflow task)."""

    model_config = ConfigDict(extra="forbid")

    zarr_url: str
    dataset_id: int | None = None
    workflowtask_id: int | None = None
    latest_history_unit_id: int | None = None


def log_has_warnings(logfile: str | Path | None) -> bool:
    """True if the log mentions "warning" in any case; missing file → False.

    Read in chunks (with overlap) so that huge logs use bounded memory.
    """
    if logfile is None:
        return False
    keep = len(WARNING_MARKER) - 1
    tail = b""
    try:
        with open(logfile, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                window = (tail + chunk).lower()
                if WARNING_MARKER in window:
                    return True
                tail = window[-keep:]
    except OSError:
        return False
    return False


def unit_counts(units: Iterable[HistoryUnit]) -> dict[str, int]:
    """`num_<status>_units` for each status plus `num_units_with_warnings`."""
    statuses: Counter[str] = Counter()
    warnings = 0
    for unit in units:
        statuses[unit.status] += 1
        warnings += unit.has_warnings
    counts = {f"num_{status}_units": statuses[status] for status in HistoryUnitStatus}
    counts["num_units_with_warnings"] = warnings
    return counts
