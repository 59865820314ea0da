"""What every executor does around one unit's process: check, build, judge.

Pure helpers shared by `LocalExecutor` and `InlineExecutor` (and later SLURM):
command checks, the argument list, reading the log and the output file, and
turning an exit code into a `UnitResult`. No threads, no process handling here.
"""

from __future__ import annotations

import codecs
import errno
import json
import logging
import os
import shlex
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import BinaryIO

from ..types import validate_cmd
from .base import FailureKind
from .base import UnitFailure
from .base import UnitResult
from .base import UnitStatus
from .base import WorkUnit

logger = logging.getLogger(__name__)

# Longer log text is not embedded in failure messages (upstream 2.24.0, #3391).
MAX_LEN_STDERR = 100_000
# How much of the end of a log a failure carries in `UnitFailure.log`.
LOG_EXCERPT_CHARS = 20_000
# How much of the end of a log a time-limit message quotes.
LOG_MESSAGE_TAIL_CHARS = 2_000
# Output files larger than this are refused instead of read into memory.
MAX_OUTPUT_BYTES = 256 * 1024 * 1024


class InvalidCommand(ValueError):
    """The command string cannot be run: forbidden characters, empty, not found."""


def _check_forbidden_characters(command: str) -> None:
    """Refuse shell metacharacters (the reference's `validate_cmd` rule)."""
    try:
        validate_cmd(command)
    except ValueError as exc:
        raise InvalidCommand(f"Invalid command. Original error: {exc}") from exc


ExecutableCheck = Callable[[str], object]
"""Says whether a program can run: returns its path (truthy) or None/False.

The default, `local_executable_check`, is `shutil.which` on this machine; an
executor running units on another host passes a check that asks that host.
"""


def local_executable_check(program: str) -> str | None:
    """`shutil.which` here: the program's path if it is an executable, else None."""
    return shutil.which(program)


def split_command(
    command: str, *, executable_check: ExecutableCheck = local_executable_check
) -> list[str]:
    """Check `command` and split it into an argument list (no shell ever runs).

    Quoted words stay whole, so a command stored as `shlex.join(argv)` runs the
    right program even when its path holds spaces. Raises `InvalidCommand` for
    forbidden characters, an empty or unparsable string, or a first word that
    `executable_check` does not accept.
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
    if not executable_check(argv[0]):
        raise InvalidCommand(
            f'Command "{argv[0]}" is not valid. Hint: make sure that it is executable.'
        )
    return argv


def read_log(log_file: Path) -> str:
    """The log text of a unit, or "" if there is none (never raises on bad bytes).

    Reads the whole file: use `read_log_excerpt` where the log may be huge.
    """
    try:
        return log_file.read_text(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class LogExcerpt:
    """What failure messages need of a log: its length and its text or its tail.

    `text` is the whole log when it is at most `MAX_LEN_STDERR` characters long,
    else its last `LOG_EXCERPT_CHARS` characters; `length` counts characters.
    """

    text: str
    length: int

    @property
    def complete(self) -> bool:
        return self.length <= MAX_LEN_STDERR

    @property
    def tail(self) -> str:
        return self.text[-LOG_EXCERPT_CHARS:]


def _count_chars(handle: BinaryIO) -> int:
    """Characters of a UTF-8 stream (bad bytes count as one each), in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    count = 0
    while chunk := handle.read(1 << 20):
        count += len(decoder.decode(chunk))
    return count + len(decoder.decode(b"", final=True))


def read_log_excerpt(log_file: Path) -> LogExcerpt:
    """The log's length and text (or tail), reading a bounded amount into memory.

    Refuses to open anything but a regular file (a FIFO would block): such logs
    read as empty.
    """
    try:
        with _open_regular(log_file) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= 4 * MAX_LEN_STDERR:  # ≤ 4 bytes per character
                text = handle.read().decode(errors="replace")
                if len(text) <= MAX_LEN_STDERR:
                    return LogExcerpt(text, len(text))
                return LogExcerpt(text[-LOG_EXCERPT_CHARS:], len(text))
            length = _count_chars(handle)
            handle.seek(max(0, size - 4 * LOG_EXCERPT_CHARS))
            tail = handle.read().decode(errors="replace")[-LOG_EXCERPT_CHARS:]
            return LogExcerpt(tail, length)
    except (OSError, NotRegularFile):
        return LogExcerpt("", 0)


def stderr_for_message(log_text: str, log_file: Path) -> str:
    """The log as embedded in a failure message: a placeholder when too long."""
    return _stderr_text(LogExcerpt(log_text, len(log_text)), log_file)


def _stderr_text(excerpt: LogExcerpt, log_file: Path) -> str:
    if not excerpt.complete:
        return (
            f"Cannot display stderr of length {excerpt.length}. "
            f"The complete output is in the log file {log_file}."
        )
    return excerpt.text


def log_for_failure(log_text: str) -> str:
    """The log kept on `UnitFailure.log`: all of it, or its last part if long."""
    return log_text[-LOG_EXCERPT_CHARS:]


class InvalidOutput(ValueError):
    """The output file exists but does not hold one JSON value."""


class NotRegularFile(ValueError):
    """A path that must be a regular file is a FIFO, link, device, folder, ..."""


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading only if it is a regular file; never blocks.

    `lstat` first (no symlink followed), then open with O_NOFOLLOW|O_NONBLOCK and
    check the opened file again, so a swap between the two cannot slip through.
    Raises FileNotFoundError, or NotRegularFile naming the path and its kind.
    """
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(f"{path} is {_file_kind(mode)}, not a regular file.")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularFile(f"{path} is a symbolic link.") from exc
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile(f"{path} is {_file_kind(mode)}, not a regular file.")
    return os.fdopen(fd, "rb")


def read_output(output_file: Path, *, max_bytes: int | None = None) -> Any:
    """Parse the unit's output file; a missing or empty file means `None`.

    Only a regular file is read (a FIFO, symlink, device or directory is
    refused without blocking), and at most `max_bytes` (default
    `MAX_OUTPUT_BYTES`) of it: a larger file is refused before it is read.
    """
    limit = MAX_OUTPUT_BYTES if max_bytes is None else max_bytes
    try:
        with _open_regular(output_file) as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None
    except (OSError, NotRegularFile) as exc:
        raise InvalidOutput(f"Cannot read output file {output_file}: {exc}") from exc
    if len(data) > limit:
        raise InvalidOutput(
            f"Output file {output_file} is larger than the limit of {limit} bytes."
        )
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise InvalidOutput(f"Cannot read output file {output_file}: {exc}") from exc
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(
            f"Output file {output_file} is not valid JSON: {exc}"
        ) from exc
    except RecursionError:
        raise InvalidOutput(
            f"Output file {output_file} is not valid JSON: nested too deeply."
        ) from None


def failed(
    unit: WorkUnit,
    kind: FailureKind,
    message: str,
    *,
    returncode: int | None = None,
    log: str = "",
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    native_id: str | None = None,
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
        started_at=started_at,
        ended_at=ended_at,
        native_id=native_id,
    )


def with_times(
    result: UnitResult,
    started_at: datetime | None,
    ended_at: datetime | None,
    native_id: str | None,
) -> UnitResult:
    """The same result with its run's start, end and native id filled in."""
    return replace(
        result, started_at=started_at, ended_at=ended_at, native_id=native_id
    )


def cancelled(unit: WorkUnit, *, returncode: int | None = None) -> UnitResult:
    """The result of a unit cancelled before or while running."""
    when = "before it started" if returncode is None else "while running"
    log = read_log_excerpt(unit.log_file).tail if returncode is not None else ""
    return failed(
        unit,
        FailureKind.CANCELLED,
        f"Unit {unit.id} was cancelled {when}.",
        returncode=returncode,
        log=log,
    )


def timed_out(unit: WorkUnit, limit: float, returncode: int | None) -> UnitResult:
    """The result of a unit killed because it ran longer than its time limit."""
    excerpt = read_log_excerpt(unit.log_file)
    return failed(
        unit,
        FailureKind.TIME_LIMIT,
        f"Unit {unit.id} exceeded its time limit of {limit:g} seconds and was "
        f"killed. The complete output is in the log file {unit.log_file}.\n"
        f"Last lines of the log:\n{excerpt.text[-LOG_MESSAGE_TAIL_CHARS:]}",
        returncode=returncode,
        log=excerpt.tail,
    )


def judge_exit(unit: WorkUnit, returncode: int) -> UnitResult:
    """Turn a finished process into a result: exit code first, then the output."""
    if returncode != 0:
        excerpt = read_log_excerpt(unit.log_file)
        return failed(
            unit,
            FailureKind.NONZERO_EXIT,
            f"Task failed with returncode={returncode}.\n"
            f"STDERR: {_stderr_text(excerpt, unit.log_file)}",
            returncode=returncode,
            log=excerpt.tail,
        )
    try:
        output = read_output(unit.output_file)
    except InvalidOutput as exc:
        return failed(
            unit,
            FailureKind.INVALID_OUTPUT,
            str(exc),
            returncode=returncode,
            log=read_log_excerpt(unit.log_file).tail,
        )
    return UnitResult(unit_id=unit.id, status=UnitStatus.OK, output=output)
