"""The Host seam: where commands run and files live, locally or (later) over SSH.

Collection and executors never call `subprocess` or touch the filesystem of the
machine that holds the task environments directly; they go through a `Host`.
Commands are argument lists (never shell strings), paths are POSIX strings as
seen *on the host*, and every recursive removal names the base folder it must
stay inside.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from typing import runtime_checkable

from ..errors import FractalCoreError
from ..types.strings import has_dotdot_component

OutputCallback = Callable[[str], None]
"""Receives each line (without its newline) printed by a running command."""


class HostError(FractalCoreError):
    """A host operation could not be carried out (transport, missing file, ...)."""


class UnsafePathError(HostError):
    """A path escapes the folder it must stay in, or is otherwise not acceptable."""


class CommandTimeoutError(HostError):
    """A command ran longer than its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str, stderr: str):
        super().__init__(f"Command {list(argv)!r} timed out after {timeout} seconds.")
        self.argv = list(argv)
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited with code 0."""
        return self.returncode == 0

    def check(self) -> CommandResult:
        """Return self, or raise `CommandFailedError` for a non-zero exit code."""
        if self.returncode != 0:
            raise CommandFailedError(self)
        return self


class CommandFailedError(HostError):
    """A command exited with a non-zero code; carries its full output."""

    def __init__(self, result: CommandResult):
        tail = (result.stderr.strip() or result.stdout.strip())[-4000:]
        super().__init__(
            f"Command {list(result.argv)!r} failed with exit code "
            f"{result.returncode}.\n{tail}"
        )
        self.result = result


@runtime_checkable
class Host(Protocol):
    """Run argument lists and manage files on one machine, as one user."""

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        """Run `argv` (no shell) and wait; `env` is added to the host environment.

        `on_output` is called with every stdout/stderr line while the command runs,
        so callers can stream progress (e.g. into an activity log).

        Contract (checked by `tests/hosts/contract.py` for every host): the command
        runs in a process group of its own; when `timeout` expires the whole group
        is killed and `CommandTimeoutError` raised; when the wait is interrupted by
        any exception (Ctrl-C included) the whole group is killed (SIGTERM, then
        SIGKILL after a short grace) before the exception propagates; group
        members still running after a normal exit are killed too.
        """
        ...

    def exists(self, path: str) -> bool:
        """True if `path` exists (following symlinks)."""
        ...

    def is_dir(self, path: str) -> bool:
        """True if `path` is a directory."""
        ...

    def is_file(self, path: str) -> bool:
        """True if `path` is a regular file."""
        ...

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder."""
        ...

    def write_text(self, path: str, text: str) -> None:
        """Write a UTF-8 text file, replacing any previous content."""
        ...

    def read_text(self, path: str) -> str:
        """Read a UTF-8 text file."""
        ...

    def remove_tree(self, path: str, *, base: str) -> None:
        """Remove a folder recursively, only if it lies strictly inside `base`.

        Both paths are resolved (symlinks, `..`) on the host before the check; a
        path equal to `base`, outside it, or a symlink raises `UnsafePathError`.
        """
        ...

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a file from this process's machine onto the host."""
        ...

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy a file from the host onto this process's machine."""
        ...

    def realpath(self, path: str) -> str:
        """The path with symlinks and `..` resolved, as the host sees it."""
        ...


def is_strictly_inside(path: str, base: str) -> bool:
    """Lexical check that `path` is below `base` (both absolute, already resolved)."""
    path = posixpath.normpath(path)
    base = posixpath.normpath(base)
    if not (posixpath.isabs(path) and posixpath.isabs(base)):
        return False
    if path == base:
        return False
    prefix = base if base.endswith("/") else base + "/"
    return path.startswith(prefix)


def check_removal_target(
    path: str, base: str, resolved_path: str, resolved_base: str
) -> None:
    """Raise `UnsafePathError` unless `path` may be removed as a child of `base`.

    Shared by every host: the given paths must be absolute and free of `..`
    components, and both the given and the resolved path must be strictly inside
    the (given / resolved) base folder.
    """
    for name, value in (("path", path), ("base", base)):
        if not posixpath.isabs(value):
            raise UnsafePathError(
                f"Refusing removal: {name}={value!r} is not absolute."
            )
        if has_dotdot_component(value):
            raise UnsafePathError(
                f"Refusing removal: {name}={value!r} contains a '..' component."
            )
    if not is_strictly_inside(path, base):
        raise UnsafePathError(
            f"Refusing removal: path={path!r} is not strictly inside base={base!r}."
        )
    if not is_strictly_inside(resolved_path, resolved_base):
        raise UnsafePathError(
            f"Refusing removal: path={path!r} resolves to {resolved_path!r}, which is "
            f"not strictly inside base={base!r} (resolved: {resolved_base!r})."
        )
