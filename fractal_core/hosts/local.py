"""`LocalHost`: the Host seam on this machine, as the current user.

Every command starts in a session (and process group) of its own, so that the
whole tree it spawns can be signalled at once. Whatever ends the wait (normal
exit, timeout, Ctrl-C, any other exception), no member of that group outlives
`run`: on timeout or exception the group gets SIGTERM, then SIGKILL after a
short grace; after a normal exit, leftover members get SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .base import CommandResult
from .base import CommandTimeoutError
from .base import HostError
from .base import OutputCallback
from .base import UnsafePathError
from .base import check_removal_target

logger = logging.getLogger(__name__)

DEFAULT_KILL_GRACE = 2.0
"""Seconds between SIGTERM and SIGKILL when a command must be stopped."""

_READER_JOIN_TIMEOUT = 5.0
"""How long to wait for the output readers once the command's group is gone."""


def _pump(stream: IO[str], sink: list[str], on_output: OutputCallback | None) -> None:
    """Read `stream` line by line into `sink`, forwarding each line to `on_output`."""
    for line in iter(stream.readline, ""):
        sink.append(line)
        if on_output is not None:
            try:
                on_output(line.rstrip("\n"))
            except Exception:  # a faulty callback must not kill the reader
                logger.exception("on_output callback failed")
    stream.close()


def _signal_group(pgid: int, sig: int) -> None:
    """Send `sig` to process group `pgid`; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_exited(pid: int, timeout: float | None) -> bool:
    """Wait until child `pid` has exited, WITHOUT reaping it; False on timeout.

    The unreaped child keeps its pid (hence its process-group id) reserved, so
    signalling the group afterwards cannot hit an unrelated, recycled group.
    """
    flags = os.WEXITED | os.WNOWAIT
    try:
        if timeout is None:
            os.waitid(os.P_PID, pid, flags)
            return True
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while os.waitid(os.P_PID, pid, flags | os.WNOHANG) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)
        return True
    except ChildProcessError:  # already reaped elsewhere
        return True


def stop_group(proc: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM the command's group, SIGKILL it after `grace` s, then reap the leader.

    A second interruption during the grace period still ends in SIGKILL.
    """
    try:
        _signal_group(proc.pid, signal.SIGTERM)
        wait_exited(proc.pid, grace)
    finally:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


class LocalHost:
    """Run commands with `subprocess` (argument lists only) and use local files."""

    def __init__(self, *, kill_grace: float = DEFAULT_KILL_GRACE) -> None:
        self.kill_grace = kill_grace

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        """Run `argv` without a shell; stream output lines to `on_output`.

        Never leaves a process of the command's group behind (see the module doc);
        on timeout raises `CommandTimeoutError`, other exceptions are re-raised.
        """
        argv = [str(a) for a in argv]
        if not argv:
            raise HostError("Cannot run an empty argument list.")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        logger.debug("run %r (cwd=%s)", argv, cwd)
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as e:
            raise HostError(f"Cannot run {argv!r}: {e}") from e
        out: list[str] = []
        err: list[str] = []
        readers = self._start_readers(proc, out, err, on_output)
        try:
            finished = wait_exited(proc.pid, timeout)
        except BaseException:
            logger.debug("run %r interrupted: stopping its process group", argv)
            stop_group(proc, self.kill_grace)
            self._join(readers)
            raise
        if not finished:
            stop_group(proc, self.kill_grace)
            self._join(readers)
            raise CommandTimeoutError(argv, timeout or 0, "".join(out), "".join(err))
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers; the leader is a zombie
        proc.wait()
        self._join(readers)
        return CommandResult(tuple(argv), proc.returncode, "".join(out), "".join(err))

    @staticmethod
    def _start_readers(
        proc: subprocess.Popen[str],
        out: list[str],
        err: list[str],
        on_output: OutputCallback | None,
    ) -> list[threading.Thread]:
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, out, on_output)),
            threading.Thread(target=_pump, args=(proc.stderr, err, on_output)),
        ]
        for t in readers:
            t.daemon = True
            t.start()
        return readers

    @staticmethod
    def _join(readers: list[threading.Thread]) -> None:
        """Join the output readers (bounded: an escaped process may hold a pipe)."""
        for t in readers:
            t.join(_READER_JOIN_TIMEOUT)

    def exists(self, path: str) -> bool:
        """True if `path` exists."""
        return os.path.exists(path)

    def is_dir(self, path: str) -> bool:
        """True if `path` is a directory."""
        return os.path.isdir(path)

    def is_file(self, path: str) -> bool:
        """True if `path` is a regular file."""
        return os.path.isfile(path)

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder."""
        Path(path).mkdir(parents=parents, exist_ok=exist_ok)

    def write_text(self, path: str, text: str) -> None:
        """Write a UTF-8 text file."""
        Path(path).write_text(text, encoding="utf-8")

    def read_text(self, path: str) -> str:
        """Read a UTF-8 text file."""
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise HostError(f"Cannot read {path!r}: {e}") from e

    def realpath(self, path: str) -> str:
        """Resolve symlinks and `..`."""
        return os.path.realpath(path)

    def remove_tree(self, path: str, *, base: str) -> None:
        """Remove `path` recursively if it is a real folder strictly inside `base`."""
        check_removal_target(path, base, self.realpath(path), self.realpath(base))
        if os.path.islink(path):
            raise UnsafePathError(f"Refusing removal: path={path!r} is a symlink.")
        if not os.path.exists(path):
            raise HostError(f"Cannot remove {path!r}: No such file or directory.")
        logger.debug("remove_tree %s (base %s)", path, base)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a local file to `remote_path` (same machine)."""
        shutil.copyfile(local_path, remote_path)

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy `remote_path` to a local file (same machine)."""
        shutil.copyfile(remote_path, local_path)
