"""What every subcommand shares: exit codes and error reporting."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RUNNING",
    "EXIT_USAGE",
    "UsageError",
    "absolute_path",
    "regular_file",
    "say",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNNING = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line input found by the CLI itself (exit code 2)."""


def absolute_path(value: str, what: str) -> Path:
    """`value` made absolute (not resolved: symlinks are checked by the library)."""
    if not value:
        raise UsageError(f"{what}: an empty path was given.")
    if "\x00" in value:
        raise UsageError(f"{what}: {value!r} contains a NUL character.")
    path = Path(os.path.abspath(value))
    if ".." in Path(value).parts:
        raise UsageError(f"{what}: {value!r} must not contain '..' components.")
    return path


def regular_file(value: str, what: str) -> Path:
    """`absolute_path(value)`, which must name a regular file: reading a FIFO
    would block for ever, a folder or device is no JSON file."""
    path = absolute_path(value, what)
    if path.exists() and not path.is_file():
        raise UsageError(f"{what}: {str(path)!r} is not a regular file.")
    return path


def say(text: str, stream: TextIO | None = None) -> None:
    """One line of output (stdout by default)."""
    print(text, file=stream if stream is not None else sys.stdout, flush=True)
