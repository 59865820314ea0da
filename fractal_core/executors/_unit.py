"""What every executor does around one unit's process: check, build, judge.

Pure helpers shared by `LocalExecutor` and `InlineExecutor` (and later SLURM):
command checks, the argument list, reading the log and the output file, and
turning an exit code into a `UnitResult`. No threads, no process handling here.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from pathlib import Path
from typing import Any

from ..types import validate_cmd
from .base import FailureKind
from .base import UnitFailure
from .base import UnitResult
from .base import UnitStatus
from .base import WorkUnit

logger = logging.getLogger(__name__)

# Longer log text is not embedded in failure messages (upstream 2.24.0, #3391).
MAX_LEN_STDERR = 100_000


class InvalidCommand(ValueError):
    """The command string cannot be run: forbidden characters, empty, not found."""


def _check_forbidden_characters(command: str) -> None:
    """Refuse shell metacharacters (the reference's `validate_cmd` rule)."""
    try:
        validate_cmd(command)
    except ValueError as exc:
        raise InvalidCommand(f"Invalid command. Original error: {exc}") from exc


def split_command(command: str) -> list[str]:
    """Check `command` and split it into an argument list (no shell ever runs).

    Raises `InvalidCommand` for forbidden characters, an empty or unparsable
    string, or a first token that is not an executable on PATH.
    """
    if not isinstance(command, str):
        raise InvalidCommand(f"Invalid command: command={command!r} is not a string.")
    _check_forbidden_characters(command)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidCommand(
            f"Invalid command: cannot split command={command!r}: {exc}."
        ) from exc
    if not argv:
        raise InvalidCommand(f"Invalid command: command={command!r} is empty.")
    if shutil.which(argv[0]) is None:
        raise InvalidCommand(
            f'Command "{argv[0]}" is not valid. Hint: make sure that it is executable.'
        )
    return argv


def read_log(log_file: Path) -> str:
    """The log text of a unit, or "" if there is none (never raises on bad bytes)."""
    try:
        return log_file.read_text(errors="replace")
    except OSError:
        return ""


def stderr_for_message(log_text: str, log_file: Path) -> str:
    """The log as embedded in a failure message: a placeholder when too long."""
    if len(log_text) > MAX_LEN_STDERR:
        return (
            f"Cannot display stderr of length {len(log_text)}. "
            f"The complete output is in the log file {log_file}."
        )
    return log_text


def log_for_failure(log_text: str) -> str:
    """The log kept on `UnitFailure.log`: all of it, or its last part if huge."""
    if len(log_text) > MAX_LEN_STDERR:
        return log_text[-MAX_LEN_STDERR:]
    return log_text


class InvalidOutput(ValueError):
    """The output file exists but does not hold one JSON value."""


def read_output(output_file: Path) -> Any:
    """Parse the unit's output file; a missing or empty file means `None`."""
    try:
        text = output_file.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidOutput(f"Cannot read output file {output_file}: {exc}") from exc
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(
            f"Output file {output_file} is not valid JSON: {exc}"
        ) from exc


def failed(
    unit: WorkUnit,
    kind: FailureKind,
    message: str,
    *,
    returncode: int | None = None,
    log: str = "",
) -> UnitResult:
    """A FAILED (or CANCELLED, for `FailureKind.CANCELLED`) result for `unit`."""
    status = (
        UnitStatus.CANCELLED if kind is FailureKind.CANCELLED else UnitStatus.FAILED
    )
    return UnitResult(
        unit_id=unit.id,
        status=status,
        failure=UnitFailure(
            kind=kind,
            message=message,
            returncode=returncode,
            log=log,
            log_file=unit.log_file,
        ),
    )


def cancelled(unit: WorkUnit, *, returncode: int | None = None) -> UnitResult:
    """The result of a unit cancelled before or while running."""
    when = "before it started" if returncode is None else "while running"
    log = log_for_failure(read_log(unit.log_file)) if returncode is not None else ""
    return failed(
        unit,
        FailureKind.CANCELLED,
        f"Unit {unit.id} was cancelled {when}.",
        returncode=returncode,
        log=log,
    )


def judge_exit(unit: WorkUnit, returncode: int) -> UnitResult:
    """Turn a finished process into a result: exit code first, then the output."""
    if returncode != 0:
        log_text = read_log(unit.log_file)
        return failed(
            unit,
            FailureKind.NONZERO_EXIT,
            f"Task failed with returncode={returncode}.\n"
            f"STDERR: {stderr_for_message(log_text, unit.log_file)}",
            returncode=returncode,
            log=log_for_failure(log_text),
        )
    try:
        output = read_output(unit.output_file)
    except InvalidOutput as exc:
        return failed(
            unit,
            FailureKind.INVALID_OUTPUT,
            str(exc),
            returncode=returncode,
            log=log_for_failure(read_log(unit.log_file)),
        )
    return UnitResult(unit_id=unit.id, status=UnitStatus.OK, output=output)
