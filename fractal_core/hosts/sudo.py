"""`SudoHost`: the Host seam on this machine, as another Unix user, through sudo.

Every command runs as ``sudo -n -u USER env [-C CWD] K=V ... ARGV`` (an argument
list, never a shell string). ``sudo`` resets the environment, so every variable
the command needs (``SLURM_CONF`` for instance) goes through ``env``: the
host-wide ``env`` given to the constructor plus the per-call ``env`` of `run`.
Files are read and written by commands running as that user (``cat``, ``dd``,
``mkdir``, ``test``, ``realpath``, ``rm``), content travelling on stdin/stdout.

Process control. The ``sudo`` process is our child and starts a session of its
own; without a terminal, sudo runs the user's command in that same session and
process group (verified with sudo 1.9.13 and ``Defaults use_pty``: no pty is
allocated without a terminal). Stopping a command therefore means:

- SIGTERM to the group: reaches every member when we are root; otherwise it
  reaches sudo, which relays it to the user's command;
- SIGKILL after the grace period: sudo does not relay it, so every process of
  the session (found in ``/proc``: same session id, which the unreaped sudo
  keeps reserved) is killed, directly when we may signal it, else through
  ``sudo -n -u USER kill -KILL PID...``.

After a normal exit the session's leftover members are killed the same way,
so no process of a command outlives `run`, as the Host contract demands.

Requirements: ``sudo`` may run commands as USER without a password (root may
always; otherwise a sudoers rule such as ``server ALL=(USER) NOPASSWD: ALL``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from typing import IO

from .base import CommandResult
from .base import CommandTimeoutError
from .base import HostError
from .base import OutputCallback
from .base import UnsafePathError
from .base import check_removal_target
from .local import DEFAULT_KILL_GRACE
from .local import wait_exited

logger = logging.getLogger(__name__)

_USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
"""POSIX portable user names (no leading hyphen), at most 32 characters."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_READER_JOIN_TIMEOUT = 5.0
_FILE_OP_TIMEOUT = 300.0
"""Hang guard for the short file commands (cat, dd, test, mkdir, ...)."""


def validate_user_name(user: str) -> str:
    """Return `user` if it is a POSIX portable user name, else raise HostError."""
    if not isinstance(user, str) or not _USER_NAME.match(user):
        raise HostError(
            f"Invalid user name {user!r}: expected a POSIX portable name "
            "(letters, digits, '.', '_', '-', not starting with '-', at most 32)."
        )
    return user


def _validate_env(env: Mapping[str, str], what: str) -> list[str]:
    out = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise HostError(f"Invalid environment variable name {key!r} in {what}.")
        if "\0" in str(value):
            raise HostError(f"Environment variable {key!r} in {what} contains NUL.")
        out.append(f"{key}={value}")
    return out


def session_members(sid: int) -> list[int]:
    """Pids of the live (non-zombie) processes of session `sid`, from /proc."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Fields after the command name: state ppid pgrp session ...
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == sid:
            found.append(int(name))
    return found


def _pump(stream: IO[str], sink: list[str], on_output: OutputCallback | None) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
        if on_output is not None:
            try:
                on_output(line.rstrip("\n"))
            except Exception:
                logger.exception("on_output callback failed")
    stream.close()


class SudoHost:
    """Run commands and manage files on this machine as `user`, through sudo.

    `env` is added to the environment of every command (sudo drops the
    caller's variables); `base`, when given, is the default base folder of
    `remove_tree` (removals must then stay strictly inside it).
    """

    def __init__(
        self,
        user: str,
        *,
        sudo: str = "sudo",
        env: Mapping[str, str] | None = None,
        base: str | None = None,
        kill_grace: float = DEFAULT_KILL_GRACE,
    ) -> None:
        self.user = validate_user_name(user)
        self.sudo = sudo
        self.env = dict(env or {})
        _validate_env(self.env, "SudoHost env")
        self.base = base
        self.kill_grace = kill_grace

    def __repr__(self) -> str:
        return f"SudoHost(user={self.user!r})"

    # ------------------------------------------------------------ commands

    def _argv(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> list[str]:
        """The full sudo argument list for `argv`."""
        argv = [str(a) for a in argv]
        if not argv:
            raise HostError("Cannot run an empty argument list.")
        if "=" in argv[0] or argv[0].startswith("-"):
            # `env` would take it for an assignment or an option.
            raise HostError(f"Cannot run {argv!r}: unusable program name {argv[0]!r}.")
        merged = {**self.env, **(env or {})}
        prefix = [self.sudo, "-n", "-u", self.user, "env"]
        if cwd is not None:
            prefix.append(f"--chdir={cwd}")
        return [*prefix, *_validate_env(merged, "run env"), *argv]

    @staticmethod
    def _launch_error(argv: list[str], returncode: int, stderr: str) -> str | None:
        """The reason sudo/env could not start `argv`, or None if it ran."""
        first = stderr.splitlines()[0] if stderr else ""
        launched = argv[0] in first or "cannot change directory" in first
        if returncode in (125, 126, 127) and first.startswith("env: ") and launched:
            return first
        if returncode == 1 and first.startswith("sudo: "):
            return first
        return None

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        """Run `argv` as the user (no shell); see the module doc for stopping."""
        user_argv = [str(a) for a in argv]
        full = self._argv(user_argv, env, cwd)
        logger.debug("run as %s: %r (cwd=%s)", self.user, user_argv, cwd)
        try:
            proc = subprocess.Popen(
                full,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except OSError as e:
            raise HostError(f"Cannot run {user_argv!r} as {self.user!r}: {e}") from e
        out: list[str] = []
        err: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, out, on_output)),
            threading.Thread(target=_pump, args=(proc.stderr, err, on_output)),
        ]
        for t in readers:
            t.daemon = True
            t.start()
        try:
            finished = wait_exited(proc.pid, timeout)
        except BaseException:
            logger.debug("run %r interrupted: stopping its session", user_argv)
            self._stop(proc)
            self._join(readers)
            raise
        if not finished:
            self._stop(proc)
            self._join(readers)
            raise CommandTimeoutError(
                user_argv, timeout or 0, "".join(out), "".join(err)
            )
        self._kill_session(proc.pid)  # stragglers; sudo is an unreaped zombie
        proc.wait()
        self._join(readers)
        stderr = "".join(err)
        reason = self._launch_error(user_argv, proc.returncode, stderr)
        if reason is not None:
            raise HostError(f"Cannot run {user_argv!r} as {self.user!r}: {reason}")
        return CommandResult(tuple(user_argv), proc.returncode, "".join(out), stderr)

    @staticmethod
    def _join(readers: list[threading.Thread]) -> None:
        for t in readers:
            t.join(_READER_JOIN_TIMEOUT)

    def _stop(self, proc: subprocess.Popen[str]) -> None:
        """SIGTERM the group, SIGKILL the whole session after the grace, reap sudo."""
        try:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            wait_exited(proc.pid, self.kill_grace)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            self._kill_session(proc.pid)
            proc.wait()

    def _kill_session(self, sid: int, limit: float = 10.0) -> None:
        """SIGKILL every process of session `sid` (ours directly, others via sudo)."""
        deadline = time.monotonic() + limit
        while members := session_members(sid):
            foreign = []
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                except PermissionError:
                    foreign.append(pid)
            if foreign:
                subprocess.run(
                    [self.sudo, "-n", "-u", self.user, "kill", "-KILL"]
                    + [str(p) for p in foreign],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=_FILE_OP_TIMEOUT,
                )
            if time.monotonic() > deadline:
                logger.warning("session %d: processes left behind: %s", sid, members)
                return
            time.sleep(0.01)

    def _call(
        self,
        argv: list[str],
        *,
        stdin: int | IO[bytes] | None = None,
        input: bytes | None = None,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a short file command as the user (no env, no output streaming)."""
        full = [self.sudo, "-n", "-u", self.user, *argv]
        try:
            return subprocess.run(
                full,
                stdin=subprocess.DEVNULL if stdin is None and input is None else stdin,
                input=input,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=_FILE_OP_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HostError(f"{argv[0]} as {self.user!r} failed: {e}") from e

    def _check(
        self, res: subprocess.CompletedProcess[bytes], what: str, path: str
    ) -> None:
        if res.returncode != 0:
            msg = res.stderr.decode(errors="replace").strip()
            raise HostError(f"Cannot {what} {path!r} as {self.user!r}: {msg}")

    # ------------------------------------------------------------ files

    def _test(self, flag: str, path: str) -> bool:
        res = self._call(["test", flag, path])
        if res.returncode not in (0, 1):
            self._check(res, f"test ({flag})", path)
        return res.returncode == 0

    def exists(self, path: str) -> bool:
        """True if `path` exists (as the user sees it)."""
        return self._test("-e", path)

    def is_dir(self, path: str) -> bool:
        """True if `path` is a directory."""
        return self._test("-d", path)

    def is_file(self, path: str) -> bool:
        """True if `path` is a regular file."""
        return self._test("-f", path)

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder as the user."""
        if not exist_ok and self.exists(path):
            raise HostError(f"Cannot create {path!r}: it exists.")
        if exist_ok and self.is_dir(path):
            return
        argv = ["mkdir", "-p", "--", path] if parents else ["mkdir", "--", path]
        self._check(self._call(argv), "create folder", path)

    def write_text(self, path: str, text: str) -> None:
        """Write a UTF-8 text file as the user, replacing any previous content."""
        res = self._call(
            ["dd", f"of={path}", "bs=65536", "status=none"],
            input=text.encode("utf-8"),
        )
        self._check(res, "write", path)

    def read_text(self, path: str) -> str:
        """Read a UTF-8 text file as the user."""
        res = self._call(["cat", "--", path])
        self._check(res, "read", path)
        return res.stdout.decode("utf-8")

    def realpath(self, path: str) -> str:
        """Resolve symlinks and `..` as the user (missing components allowed)."""
        res = self._call(["realpath", "-m", "--", path])
        self._check(res, "resolve", path)
        return res.stdout.decode("utf-8").rstrip("\n")

    def remove_tree(self, path: str, *, base: str | None = None) -> None:
        """Remove `path` recursively, as the user, if strictly inside `base`."""
        base = base if base is not None else self.base
        if base is None:
            raise UnsafePathError(
                f"Refusing removal: no base folder given for path={path!r}."
            )
        check_removal_target(path, base, self.realpath(path), self.realpath(base))
        if self._test("-L", path):
            raise UnsafePathError(f"Refusing removal: path={path!r} is a symlink.")
        if not self.exists(path):
            raise HostError(f"Cannot remove {path!r}: No such file or directory.")
        logger.debug("remove_tree %s (base %s) as %s", path, base, self.user)
        self._check(self._call(["rm", "-rf", "--", path]), "remove", path)

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a local file (read by this process) to `remote_path` as the user."""
        try:
            with open(local_path, "rb") as src:
                res = self._call(
                    ["dd", f"of={remote_path}", "bs=1M", "status=none"], stdin=src
                )
        except OSError as e:
            raise HostError(f"Cannot read {local_path!r}: {e}") from e
        self._check(res, "write", remote_path)

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy `remote_path` (read as the user) to a local file of this process."""
        try:
            with open(local_path, "wb") as dst:
                res = self._call(["cat", "--", remote_path], stdout=dst)
        except OSError as e:
            raise HostError(f"Cannot write {local_path!r}: {e}") from e
        self._check(res, "read", remote_path)
