"""How many units of one submission may run together (`parallel_tasks_per_job`).

Pure functions, kept apart so they can be property-tested.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import ExecutorError
from .base import UnitBatch
from .base import WorkUnit


def submission_limit(units: Sequence[WorkUnit]) -> int | None:
    """The `parallel_tasks_per_job` of a batch: the smallest one set, or None.

    Units of one submission normally share one value (they come from one workflow
    task); if they differ, the strictest wins. Values below 1 are refused: the
    reference crashes on 0 and silently runs nothing for negative values.
    """
    limit: int | None = None
    if isinstance(units, UnitBatch):  # one shared request: check it once
        units = units[:1]
    for unit in units:
        value = unit.resources.parallel_tasks_per_job
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExecutorError(
                f"Unit {unit.id!r}: parallel_tasks_per_job={value!r} must be a "
                "positive integer or None."
            )
        limit = value if limit is None else min(limit, value)
    return limit


def chunk_ranges(n_units: int, chunk_size: int | None) -> list[range]:
    """Consecutive index ranges of at most `chunk_size` units covering `n_units`.

    `chunk_size=None` means one chunk holding everything (the reference's
    behaviour when `parallel_tasks_per_job` is unset).
    """
    if n_units < 0:
        raise ValueError(f"n_units={n_units} must not be negative.")
    if chunk_size is None:
        return [range(0, n_units)] if n_units else []
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size} must be positive or None.")
    return [
        range(start, min(start + chunk_size, n_units))
        for start in range(0, n_units, chunk_size)
    ]


def check_unique_ids(units: Sequence[WorkUnit]) -> None:
    """Unit ids key the results, so they must be unique within one submission."""
    if isinstance(units, UnitBatch):
        return  # unique by construction
    seen: set[str] = set()
    for unit in units:
        if unit.id in seen:
            raise ExecutorError(f"Duplicate unit id={unit.id!r} in one submission.")
        seen.add(unit.id)
