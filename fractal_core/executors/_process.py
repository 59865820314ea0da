"""Starting one unit's process, and the context-manager behaviour of executors."""

from __future__ import annotations

import os
import subprocess
from types import TracebackType
from typing import Self

from ._unit import InvalidCommand
from ._unit import failed
from ._unit import unit_argv
from .base import FailureKind
from .base import UnitResult
from .base import WorkUnit


def start_process(unit: WorkUnit) -> subprocess.Popen[bytes] | UnitResult:
    """Start the unit's command (own process group, output to its log file).

    Returns the running process, or a failed result when the command is refused
    or cannot be started; in that case no log file is written.
    """
    try:
        argv = unit_argv(unit)
    except InvalidCommand as exc:
        return failed(unit, FailureKind.INVALID_COMMAND, str(exc))
    unit.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(unit.log_file, "wb") as log:
        try:
            return subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **unit.env},
                cwd=unit.workdir,
                start_new_session=True,
            )
        except OSError as exc:
            return failed(
                unit,
                FailureKind.INVALID_COMMAND,
                f"Cannot start command {unit.command!r}: {exc}",
            )


class ExecutorContext:
    """`with executor:` — on exit, shut down; cancel if an exception escapes."""

    def shutdown(self, *, cancel: bool = False) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(cancel=exc_type is not None)
