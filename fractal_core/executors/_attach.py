"""Picking up a local submission after the process that made it is gone.

A new process cannot collect the exit codes of processes started by a dead one,
so an attached handle judges units by what it can see:

- a unit with a final result in the snapshot keeps it (an OK unit's output is
  read again from its output file);
- a unit whose recorded process (pid and start time) still runs is watched by
  polling; when it ends, leftovers of its session are killed and it is judged by
  its output file (present and valid: OK; absent: FAILED, exit code unknown);
- any other unit (its process is gone, or it had not started when the snapshot
  was taken) is judged by its output file the same way, failing with
  `EXECUTOR_ERROR` "process lost after a restart" when there is none.

`cancel()` terminates the watched units' process trees. Nothing here blocks
without a bound: `wait(timeout)` and `as_completed(timeout)` return or raise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ._board import SNAPSHOT_VERSION
from ._board import ResultBoard
from ._board import utc_now
from ._tree import SessionRef
from ._tree import read_stat
from ._unit import InvalidOutput
from ._unit import failed
from ._unit import read_output
from .base import ExecutorError
from .base import FailureKind
from .base import UnitFailure
from .base import UnitResult
from .base import UnitState
from .base import UnitStatus
from .base import WorkUnit

logger = logging.getLogger(__name__)

LOST = "process lost after a restart"


def _field(entry: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind):
        raise ExecutorError(
            f"Cannot attach: {where}{key}={value!r} is not a {kind.__name__}."
        )
    return value


def _unit_of(entry: Mapping[str, Any], where: str) -> WorkUnit:
    """The `WorkUnit` recorded in one snapshot entry (validated)."""
    remote: dict[str, str | None] = {}
    for key in ("args_file_remote", "output_file_remote", "log_file_remote"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise ExecutorError(f"Cannot attach: {where}{key}={value!r} is not a str.")
        remote[key] = value
    return WorkUnit(
        id=_field(entry, "id", str, where),
        command=_field(entry, "command", str, where),
        args_file=Path(_field(entry, "args_file", str, where)),
        output_file=Path(_field(entry, "output_file", str, where)),
        log_file=Path(_field(entry, "log_file", str, where)),
        args_file_remote=remote["args_file_remote"],
        output_file_remote=remote["output_file_remote"],
        log_file_remote=remote["log_file_remote"],
    )


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def judge_by_output(
    unit: WorkUnit, why: str, *, started_at: datetime | None, native_id: str | None
) -> UnitResult:
    """A unit whose exit code is unknown: OK if it left a valid output file."""
    ended_at = utc_now()
    try:
        exists = unit.output_file.exists() or unit.output_file.is_symlink()
        output = read_output(unit.output_file) if exists else None
    except InvalidOutput as exc:
        return failed(
            unit,
            FailureKind.INVALID_OUTPUT,
            str(exc),
            started_at=started_at,
            ended_at=ended_at,
            native_id=native_id,
        )
    if not exists:
        return failed(
            unit,
            FailureKind.EXECUTOR_ERROR,
            f"Unit {unit.id}: {why}; its exit code is unknown and it left no "
            f"output file {unit.output_file}. Its log is {unit.log_file}.",
            started_at=started_at,
            ended_at=ended_at,
            native_id=native_id,
        )
    return UnitResult(
        unit_id=unit.id,
        status=UnitStatus.OK,
        output=output,
        started_at=started_at,
        ended_at=ended_at,
        native_id=native_id,
    )


def _recorded_result(unit: WorkUnit, data: Mapping[str, Any]) -> UnitResult:
    """A final result from a snapshot; an OK unit's output is read again."""
    try:
        status = UnitStatus(str(data.get("status")))
    except ValueError:
        raise ExecutorError(
            f"Cannot attach: unit {unit.id!r} has status={data.get('status')!r}."
        ) from None
    started, ended = _time(data.get("started_at")), _time(data.get("ended_at"))
    native_id = data.get("native_id")
    if status is UnitStatus.OK:
        result = judge_by_output(
            unit, "recorded as done", started_at=started, native_id=native_id
        )
        if result.failure is not None and result.failure.kind is (
            FailureKind.EXECUTOR_ERROR
        ):  # a task may legitimately write no output
            return UnitResult(
                unit_id=unit.id,
                status=UnitStatus.OK,
                started_at=started,
                ended_at=ended,
                native_id=native_id,
            )
        return result
    failure = data.get("failure") or {}
    return UnitResult(
        unit_id=unit.id,
        status=status,
        failure=UnitFailure(
            kind=FailureKind(failure.get("kind", FailureKind.EXECUTOR_ERROR)),
            message=str(failure.get("message", "")),
            returncode=failure.get("returncode"),
            log_file=unit.log_file,
        ),
        started_at=started,
        ended_at=ended,
        native_id=native_id,
    )


def _live_session(entry: Mapping[str, Any]) -> SessionRef | None:
    """The unit's session if its recorded leader still runs (same start time)."""
    native_id, start = entry.get("native_id"), entry.get("pid_start_time")
    if not isinstance(native_id, str) or not native_id.isdigit():
        return None
    if not isinstance(start, int):
        return None  # without a start time the pid cannot be trusted
    stat = read_stat(int(native_id))
    if stat is None or stat.state in ("Z", "X") or stat.start_time != start:
        return None
    return SessionRef(int(native_id), start)


class AttachedHandle(ResultBoard):
    """A handle rebuilt from `snapshot()` in a new process (see module doc)."""

    def __init__(
        self,
        units: list[WorkUnit],
        handle_id: str,
        *,
        executor_kind: str,
        grace: float,
        poll_interval: float,
    ) -> None:
        super().__init__(units, handle_id)
        self.executor_kind = executor_kind
        self._grace = grace
        self._poll = poll_interval
        self._live: dict[int, SessionRef] = {}
        self._started: dict[int, datetime | None] = {}
        self._cancel = threading.Event()

    @classmethod
    def from_snapshot(
        cls,
        state: Mapping[str, Any],
        *,
        executor_kind: str,
        grace: float,
        poll_interval: float,
    ) -> AttachedHandle:
        """Validate `state`, judge what can be judged now, watch the rest."""
        if not isinstance(state, Mapping):
            raise ExecutorError(f"Cannot attach: state={state!r} is not a mapping.")
        if state.get("version") != SNAPSHOT_VERSION:
            raise ExecutorError(
                f"Cannot attach: version={state.get('version')!r}, "
                f"expected {SNAPSHOT_VERSION}."
            )
        if state.get("executor") != executor_kind:
            raise ExecutorError(
                f"Cannot attach: executor={state.get('executor')!r} is not "
                f"{executor_kind!r}."
            )
        entries = _field(state, "units", list, "")
        units = [_unit_of(e, f"units[{i}].") for i, e in enumerate(entries)]
        handle = cls(
            units,
            _field(state, "handle_id", str, ""),
            executor_kind=executor_kind,
            grace=grace,
            poll_interval=poll_interval,
        )
        handle._adopt(entries)
        return handle

    def _adopt(self, entries: list[Mapping[str, Any]]) -> None:
        with self._cond:
            for index, (unit, entry) in enumerate(
                zip(self._units, entries, strict=True)
            ):
                if isinstance(entry.get("native_id"), str):
                    self._native[index] = entry["native_id"]
                self._started[index] = _time(entry.get("started_at"))
                if isinstance(entry.get("result"), Mapping):
                    self._set_done(index, _recorded_result(unit, entry["result"]))
                elif (session := _live_session(entry)) is not None:
                    self._live[index] = session
                    self._state[index] = UnitState.RUNNING
                else:
                    self._set_done(index, self._lost(index))
        if self._live:
            threading.Thread(
                target=self._watch, name="fractal-attach-watch", daemon=True
            ).start()

    def _lost(self, index: int) -> UnitResult:
        return judge_by_output(
            self._units[index],
            LOST,
            started_at=self._started.get(index),
            native_id=self._native.get(index),
        )

    def _watch(self) -> None:
        """Poll the live units until each has ended (or is cancelled)."""
        while True:
            with self._cond:
                live = dict(self._live)
            if not live:
                return
            cancel = self._cancel.is_set()
            for index, session in live.items():
                leader = read_stat(session.sid)
                ended = leader is None or leader.state in ("Z", "X")
                if not (cancel or ended):
                    continue
                session.terminate(self._grace)  # leftovers, or the cancelled tree
                unit = self._units[index]
                if cancel:
                    result = failed(
                        unit,
                        FailureKind.CANCELLED,
                        f"Unit {unit.id} was cancelled while running (after a "
                        "restart).",
                        started_at=self._started.get(index),
                        ended_at=utc_now(),
                        native_id=self._native.get(index),
                    )
                else:
                    result = judge_by_output(
                        unit,
                        "ended while watched after a restart",
                        started_at=self._started.get(index),
                        native_id=self._native.get(index),
                    )
                with self._cond:
                    self._live.pop(index, None)
                    self._set_done(index, result)
            self._cancel.wait(self._poll)

    def cancel(self) -> None:
        """Terminate the process trees of the units still running."""
        self._cancel.set()
