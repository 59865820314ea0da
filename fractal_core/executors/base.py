"""The Executor seam: units of work in, per-unit results out.

An executor knows nothing of workflows, datasets or databases. The engine turns a
workflow task into `WorkUnit`s (one command run each), hands a batch of them to
`Executor.submit`, and reads back one `UnitResult` per unit from the returned
`Handle`. The same shape fits a local process pool and a SLURM cluster, where many
units are packed per job and complete asynchronously.
"""

from __future__ import annotations

import enum
from abc import abstractmethod
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from ..errors import FractalCoreError
from ..types.strings import has_dotdot_component


class UnitStatus(enum.StrEnum):
    """Final state of one unit of work."""

    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FailureKind(enum.StrEnum):
    """Why a unit failed, as precisely as the executor can tell."""

    NONZERO_EXIT = "nonzero_exit"  # the task command exited with a non-zero code
    INVALID_COMMAND = "invalid_command"  # forbidden characters / not executable
    INVALID_OUTPUT = "invalid_output"  # the output file is not valid JSON
    CANCELLED = "cancelled"  # cancelled before or while running
    OUT_OF_MEMORY = "out_of_memory"  # scheduler says OOM (SLURM)
    TIME_LIMIT = "time_limit"  # scheduler says time limit hit (SLURM)
    NODE_FAILURE = "node_failure"  # preempted, node failure (SLURM)
    EXECUTOR_ERROR = "executor_error"  # anything else on the executor side


class UnitState(enum.StrEnum):
    """Where one unit of a submission is now (its final status is on the result)."""

    PENDING = "pending"  # not started yet (queued)
    RUNNING = "running"  # its process runs (or is being started)
    DONE = "done"  # it has a final `UnitResult`


class ExecutorError(FractalCoreError):
    """The executor itself failed (not a task): submission refused, shut down, ..."""


class ResourceRequestError(ExecutorError, ValueError):
    """A resource value (e.g. from a task's meta) that cannot be used."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        super().__init__(
            f"Invalid resource request: {key}={value!r}, expected {expected}."
        )
        self.key = key
        self.value = value


@dataclass(frozen=True)
class ResourceRequest:
    """What one unit asks of the executor; local executors ignore most of it.

    Typed fields are what every executor may read: `cpus_per_task`, `mem_mb`
    (memory of one unit, MB), `gpus` (SLURM's `--gpus` string) and `time_limit_s`
    (wall-clock limit of one unit; `LocalExecutor` enforces it). `meta` is the
    workflow task's merged `meta_*` dictionary as given by the user, kept whole for
    executor-specific settings (SLURM partition, extra lines, ...);
    `parallel_tasks_per_job` bounds how many units of one submission run at once.
    Build it from a meta dictionary with `ResourceRequest.from_meta`.
    """

    meta: Mapping[str, Any] = field(default_factory=dict)
    parallel_tasks_per_job: int | None = None
    cpus_per_task: int | None = None
    mem_mb: int | None = None
    gpus: str | None = None
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        limit = self.time_limit_s
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not limit > 0
            or limit == float("inf")
        ):
            raise ResourceRequestError(
                "time_limit_s", limit, "a positive number of seconds or None"
            )

    @classmethod
    def from_meta(
        cls,
        meta: Mapping[str, Any] | None,
        *,
        parallel_tasks_per_job: int | None = None,
        default_time_limit_s: float | None = None,
    ) -> ResourceRequest:
        """Read `cpus_per_task`, `mem`, `gpus` and `time` from `meta`, leniently.

        `mem` is MB as an int or a string with a decimal unit ("4G" = 4000 MB, as
        the reference reads it); `time` is SLURM's syntax ("30" minutes,
        "H:M:S", "D-H:M:S", an int of minutes, "UNLIMITED"). A missing or None
        value leaves the field unset (`time` falls back to `default_time_limit_s`).
        Bad values raise `ResourceRequestError` naming the key and the value.
        """
        from ._resources import parse_gpus
        from ._resources import parse_mem_mb
        from ._resources import parse_positive_int
        from ._resources import parse_time_limit_s

        raw = dict(meta or {})
        cpus, mem, gpus = (raw.get(k) for k in ("cpus_per_task", "mem", "gpus"))
        time_limit = default_time_limit_s
        if raw.get("time") is not None:
            time_limit = parse_time_limit_s(raw["time"], key="time")
        return cls(
            meta=raw,
            parallel_tasks_per_job=parallel_tasks_per_job,
            cpus_per_task=(
                None if cpus is None else parse_positive_int(cpus, key="cpus_per_task")
            ),
            mem_mb=None if mem is None else parse_mem_mb(mem, key="mem"),
            gpus=None if gpus is None else parse_gpus(gpus, key="gpus"),
            time_limit_s=time_limit,
        )


def _check_remote_path(name: str, value: str | None) -> None:
    """A host-side path must be an absolute POSIX string without `..` or NUL."""
    if value is None:
        return
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or "\x00" in value
        or has_dotdot_component(value)
    ):
        raise ExecutorError(
            f"Invalid {name}={value!r}: expected an absolute POSIX path without "
            "'..' components."
        )


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """One run of a task command: `<command> --args-json ARGS --out-json OUT`.

    `command` is the task's command string as stored on the Task (for example
    `/venv/bin/python /pkg/task.py`); executors split it with `shlex.split`, never
    through a shell. stdout and stderr both go to `log_file`.

    `args_file`, `output_file` and `log_file` are paths on this machine; the
    `*_remote` strings are the same files as seen by the host that runs the unit
    (a cluster node over SSH), `None` meaning "the same path". Executors that run
    elsewhere put the remote paths on the command line and move files between the
    two; the `*_on_host` properties give the effective host-side path.
    """

    id: str
    command: str
    args_file: Path
    output_file: Path
    log_file: Path
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    args_file_remote: str | None = None
    output_file_remote: str | None = None
    log_file_remote: str | None = None

    def __post_init__(self) -> None:
        for name in ("args_file_remote", "output_file_remote", "log_file_remote"):
            _check_remote_path(name, getattr(self, name))

    @property
    def args_file_on_host(self) -> str:
        """The arguments file as the running host sees it (remote, else local)."""
        return self.args_file_remote or str(self.args_file)

    @property
    def output_file_on_host(self) -> str:
        """The output file as the running host sees it (remote, else local)."""
        return self.output_file_remote or str(self.output_file)

    @property
    def log_file_on_host(self) -> str:
        """The log file as the running host sees it (remote, else local)."""
        return self.log_file_remote or str(self.log_file)


class UnitBatch(Sequence[WorkUnit]):
    """An immutable batch of units built on access, for very large submissions.

    A plain list of 100,000 `WorkUnit`s costs over a kilobyte per unit; a batch
    builds unit `i` when asked (`__getitem__`) and holds nothing per unit.
    Executors keep a `UnitBatch` as given instead of copying it into a list.
    A batch promises what executors would otherwise check unit by unit: ids
    unique within it, and one `resources` request shared by every unit.
    """

    @property
    @abstractmethod
    def resources(self) -> ResourceRequest:
        """The resource request every unit of the batch carries."""

    def unit_id(self, index: int) -> str:
        """The id of unit `index`; override to answer without building the unit."""
        return self[index].id

    def __iter__(self) -> Iterator[WorkUnit]:
        return map(self.__getitem__, range(len(self)))


@dataclass(frozen=True, slots=True)
class UnitFailure:
    """A unit that did not succeed: why, with the process's output for humans."""

    kind: FailureKind
    message: str
    returncode: int | None = None
    log: str = ""
    log_file: Path | None = None  # where the complete output of the unit lives


@dataclass(frozen=True, slots=True)
class UnitResult:
    """The outcome of one `WorkUnit`.

    `output` is the parsed JSON of the output file when the unit succeeded and the
    file exists and is non-empty, else `None` (a task may legitimately write
    nothing). Validation of its content belongs to the engine. `started_at` and
    `ended_at` (timezone-aware UTC) bracket the unit's run; `native_id` is what the
    executor's backend calls it (a pid, a SLURM job id).
    """

    unit_id: str
    status: UnitStatus
    output: Any = None
    failure: UnitFailure | None = None
    started_at: datetime | None = None  # UTC; None if the unit never started
    ended_at: datetime | None = None  # UTC
    native_id: str | None = None  # pid (local), SLURM job id, ...

    @property
    def ok(self) -> bool:
        return self.status is UnitStatus.OK


@dataclass(frozen=True)
class ExecutorCapabilities:
    """What an executor can do; the contract suite skips what it declares it cannot.

    `cancel_running`: cancel() stops units that are already running.
    `time_limit`: `ResourceRequest.time_limit_s` is enforced.
    `attach`: `Executor.attach(handle.snapshot())` works in a new process.
    `concurrent`: `submit` returns before the units finish.
    """

    cancel_running: bool = True
    time_limit: bool = True
    attach: bool = True
    concurrent: bool = True


@runtime_checkable
class Handle(Protocol):
    """A submitted batch, in the spirit of `concurrent.futures.Future`."""

    def done(self) -> bool:
        """True once every unit has a final result."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or `timeout` seconds passed; return `done()`."""
        ...

    def cancel(self) -> None:
        """Stop queued units and terminate running ones; their status is CANCELLED."""
        ...

    def results(self) -> dict[str, UnitResult]:
        """Final results by unit id (waits for completion first)."""
        ...

    @property
    def id(self) -> str:
        """Stable, unique id of this submission (kept across `attach`)."""
        ...

    def states(self) -> dict[str, UnitState]:
        """Current state of every unit, by unit id."""
        ...

    def as_completed(self, timeout: float | None = None) -> Iterator[UnitResult]:
        """Yield each unit's result once, as units finish.

        Raises `TimeoutError` when `timeout` seconds pass before all are yielded.
        """
        ...

    def native_ids(self) -> dict[str, str]:
        """Backend ids (pid, SLURM job id) of the units that have one, by unit id."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state: enough for `Executor.attach` in a new process."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Runs batches of units. Implementations: local processes, SLURM (sudo, SSH)."""

    def submit(self, units: Sequence[WorkUnit]) -> Handle:
        """Start running `units` (ids unique within the batch); return at once."""
        ...

    def shutdown(self, *, cancel: bool = False) -> None:
        """Release resources; with `cancel=True` cancel every unfinished unit."""
        ...

    @property
    def executor_error_log(self) -> str | None:
        """Executor-side errors of the last submission (not task output), or None."""
        ...

    @property
    def capabilities(self) -> ExecutorCapabilities:
        """What this executor supports (see `ExecutorCapabilities`)."""
        ...

    def attach(self, state: Mapping[str, Any]) -> Handle:
        """Pick up a batch submitted by an earlier process from `Handle.snapshot()`."""
        ...
