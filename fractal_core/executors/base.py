"""The Executor seam: units of work in, per-unit results out.

An executor knows nothing of workflows, datasets or databases. The engine turns a
workflow task into `WorkUnit`s (one command run each), hands a batch of them to
`Executor.submit`, and reads back one `UnitResult` per unit from the returned
`Handle`. The same shape fits a local process pool and a SLURM cluster, where many
units are packed per job and complete asynchronously.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from ..errors import FractalCoreError


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


@dataclass(frozen=True)
class ResourceRequest:
    """What one unit asks of the executor; local executors ignore most of it.

    `meta` is the workflow task's merged `meta_*` dictionary as given by the user
    (SLURM reads cpus_per_task, mem, gpus, ...); `parallel_tasks_per_job` bounds how
    many units of one submission run at the same time on the local executor.
    """

    meta: Mapping[str, Any] = field(default_factory=dict)
    parallel_tasks_per_job: int | None = None


@dataclass(frozen=True)
class WorkUnit:
    """One run of a task command: `<command> --args-json ARGS --out-json OUT`.

    `command` is the task's command string as stored on the Task (for example
    `/venv/bin/python /pkg/task.py`); executors split it with `shlex.split`, never
    through a shell. stdout and stderr both go to `log_file`.
    """

    id: str
    command: str
    args_file: Path
    output_file: Path
    log_file: Path
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: Path | None = None


@dataclass(frozen=True)
class UnitFailure:
    """A unit that did not succeed: why, with the process's output for humans."""

    kind: FailureKind
    message: str
    returncode: int | None = None
    log: str = ""
    log_file: Path | None = None  # where the complete output of the unit lives


@dataclass(frozen=True)
class UnitResult:
    """The outcome of one `WorkUnit`.

    `output` is the parsed JSON of the output file when the unit succeeded and the
    file exists and is non-empty, else `None` (a task may legitimately write
    nothing). Validation of its content belongs to the engine.
    """

    unit_id: str
    status: UnitStatus
    output: Any = None
    failure: UnitFailure | None = None

    @property
    def ok(self) -> bool:
        return self.status is UnitStatus.OK


class ExecutorError(FractalCoreError):
    """The executor itself failed (not a task): submission refused, shut down, ..."""


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


@runtime_checkable
class Executor(Protocol):
    """Runs batches of units. Implementations: local processes, SLURM (sudo, SSH)."""

    def submit(self, units: Sequence[WorkUnit]) -> Handle:
        """Start running `units` (ids unique within the batch); return at once."""
        ...

    def shutdown(self, *, cancel: bool = False) -> None:
        """Release resources; with `cancel=True` cancel every unfinished unit."""
        ...
