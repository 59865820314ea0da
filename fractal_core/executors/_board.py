"""The observation half of a handle: per-unit states and results, thread-safe.

Every handle (local, inline, attached, later SLURM) keeps its units' states and
final results on a `ResultBoard`; it provides `done`, `wait`, `results`,
`states`, `as_completed`, `native_ids` and `snapshot` so that each executor only
writes the part that runs units.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any

from .base import FailureKind
from .base import UnitBatch
from .base import UnitResult
from .base import UnitState
from .base import WorkUnit

SNAPSHOT_VERSION = 1


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (for `started_at`/`ended_at`)."""
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class ResultBoard:
    """States, results and native ids of one submission's units."""

    executor_kind = "unknown"

    def __init__(self, units: Sequence[WorkUnit], handle_id: str | None = None):
        # A `UnitBatch` builds units on access and is immutable: kept as given.
        self._units: Sequence[WorkUnit] = (
            units if isinstance(units, UnitBatch) else list(units)
        )
        self._id = handle_id or uuid.uuid4().hex
        self._cond = threading.Condition(threading.Lock())
        self._state = [UnitState.PENDING] * len(self._units)
        self._results: dict[int, UnitResult] = {}
        self._order: list[int] = []  # indices in completion order
        self._native: dict[int, str] = {}
        self._extra: dict[int, dict[str, Any]] = {}  # per-unit data for snapshots

    @property
    def id(self) -> str:
        """Stable unique id of this submission (uuid4 hex)."""
        return self._id

    def _unit_id(self, index: int) -> str:
        """The id of unit `index` (without building the unit of a `UnitBatch`)."""
        units = self._units
        if isinstance(units, UnitBatch):
            return units.unit_id(index)
        return units[index].id

    # -- writing (callers may hold self._cond already: it is not re-entrant) --------

    def _set_done(self, index: int, result: UnitResult) -> bool:
        """Record a final result unless one exists (locked); True if recorded."""
        if self._state[index] is UnitState.DONE:
            return False
        self._state[index] = UnitState.DONE
        self._results[index] = result
        self._order.append(index)
        self._cond.notify_all()
        return True

    # -- observation ------------------------------------------------------------------

    def _all_done(self) -> bool:
        return len(self._results) == len(self._units)

    def done(self) -> bool:
        """True once every unit has a final result."""
        with self._cond:
            return self._all_done()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or `timeout` seconds passed; return `done()`."""
        with self._cond:
            return self._cond.wait_for(self._all_done, timeout)

    def results(self) -> dict[str, UnitResult]:
        """Final results by unit id, in submission order (waits for all)."""
        self.wait()
        with self._cond:
            return {self._unit_id(i): self._results[i] for i in range(len(self._units))}

    def results_so_far(self) -> list[UnitResult]:
        """The final results known now, in completion order (does not wait)."""
        with self._cond:
            return [self._results[i] for i in self._order]

    def states(self) -> dict[str, UnitState]:
        """Current state of every unit, by unit id."""
        with self._cond:
            return {self._unit_id(i): self._state[i] for i in range(len(self._units))}

    def native_ids(self) -> dict[str, str]:
        """Backend ids of the units that have one (pid for local units)."""
        with self._cond:
            found = dict(self._native)
            for i, result in self._results.items():
                if i not in found and result.native_id is not None:
                    found[i] = result.native_id
            return {self._unit_id(i): nid for i, nid in sorted(found.items())}

    def as_completed(self, timeout: float | None = None) -> Iterator[UnitResult]:
        """Yield each result once, in completion order; `TimeoutError` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        yielded = 0
        while yielded < len(self._units):
            with self._cond:
                remaining = None if deadline is None else deadline - time.monotonic()
                ready = self._cond.wait_for(
                    functools.partial(self._more_than, yielded), remaining
                )
                if not ready:
                    raise TimeoutError(
                        f"{len(self._units) - yielded} of {len(self._units)} units "
                        f"of handle {self._id} not finished after {timeout} s."
                    )
                batch = [self._results[i] for i in self._order[yielded:]]
            yielded += len(batch)
            yield from batch

    def _more_than(self, count: int) -> bool:
        return len(self._order) > count

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state of the submission (see `Executor.attach`)."""
        with self._cond:
            units = [self._unit_state(i) for i in range(len(self._units))]
        return {
            "version": SNAPSHOT_VERSION,
            "handle_id": self._id,
            "executor": self.executor_kind,
            "units": units,
        }

    def _unit_state(self, index: int) -> dict[str, Any]:
        unit = self._units[index]
        entry: dict[str, Any] = {
            "id": unit.id,
            "command": unit.command,
            "args_file": str(unit.args_file),
            "output_file": str(unit.output_file),
            "log_file": str(unit.log_file),
            "args_file_remote": unit.args_file_remote,
            "output_file_remote": unit.output_file_remote,
            "log_file_remote": unit.log_file_remote,
            "state": self._state[index].value,
            "native_id": self._native.get(index),
            **self._extra.get(index, {}),
        }
        result = self._results.get(index)
        if result is not None:
            if entry["native_id"] is None:  # the handle may keep it on the result only
                entry["native_id"] = result.native_id
            entry["result"] = result_to_json(result)
        return entry

    def __len__(self) -> int:
        return len(self._units)


def result_to_json(result: UnitResult) -> dict[str, Any]:
    """A result without its output and log text (those stay in their files)."""
    failure = result.failure
    return {
        "status": result.status.value,
        "started_at": _iso(result.started_at),
        "ended_at": _iso(result.ended_at),
        "native_id": result.native_id,
        "failure": None
        if failure is None
        else {
            "kind": failure.kind.value,
            "message": failure.message,
            "returncode": failure.returncode,
        },
    }


def executor_errors(board: ResultBoard | None) -> str | None:
    """The `EXECUTOR_ERROR` messages among a handle's results so far, or None."""
    if board is None:
        return None
    lines = [
        f"{r.unit_id}: {r.failure.message}"
        for r in board.results_so_far()
        if r.failure is not None and r.failure.kind is FailureKind.EXECUTOR_ERROR
    ]
    return "\n".join(lines) if lines else None
