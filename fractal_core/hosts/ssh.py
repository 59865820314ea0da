"""`SSHHost`: the Host seam on another machine, as one user, over SSH (fabric).

Commands. Every command is an argument list; `shlex.join` turns it into the one
string the remote login shell sees (nothing else builds a shell string). It runs
under a fixed wrapper: `setsid` makes it the leader of a new session (hence of a
process group) and records that group's id in a pid file under the remote
`/tmp`; when the command exits, the wrapper SIGKILLs whatever is left in the
group and removes the pid file. On timeout or on any exception in the waiting
thread (Ctrl-C included) a second command SIGTERMs the group, then SIGKILLs it
after a grace period, so the Host contract holds remotely too. Environment
variables and the working folder go through `env [--chdir=DIR] K=V ...`.

Transport failures. A command whose connection breaks (paramiko reports exit
status -1, or a socket/SSH error) raises `SSHTransportError` naming the host and
the command; its outcome is unknown, so it is retried (with backoff) only when
the caller says it is safe to repeat: `run(..., idempotent=True)`. File
operations are idempotent and always retried. Opening the connection is
retried with backoff for everything: nothing has been sent yet.

Files go through SFTP; `realpath` and `remove_tree` through `realpath -m` and
`rm -rf` with the same base-folder rule as every host
(`base.check_removal_target`). `put_many`/`get_many` move many files as one tar
stream each way.
"""

from __future__ import annotations

import base64
import io
import logging
import posixpath
import re
import shlex
import stat
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TypeVar

import paramiko

from ._ssh_connection import Login
from ._ssh_connection import SharedConnection
from ._ssh_connection import SSHAuthenticationError
from ._ssh_connection import SSHConnectionError
from ._ssh_connection import SSHHostKeyError
from ._ssh_connection import SSHTransportError
from ._ssh_connection import close_all_connections
from ._ssh_connection import shared_connection
from ._tar_transfer import check_member_names
from ._tar_transfer import extract_tar
from ._tar_transfer import pack_tar
from .base import CommandResult
from .base import CommandTimeoutError
from .base import HostError
from .base import OutputCallback
from .base import UnsafePathError
from .base import check_removal_target

__all__ = [
    "SSHAuthenticationError",
    "SSHConnectionError",
    "SSHHost",
    "SSHHostKeyError",
    "SSHTransportError",
    "close_all_connections",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9_.:\[\]-]{1,253}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DEFAULT_KILL_GRACE = 2.0
_READER_JOIN_TIMEOUT = 5.0
_KILL_TIMEOUT = 60.0
_POLL = 0.05

# $1: pid file. Reads the command line (base64, first line of stdin), runs it as
# leader of a new session (recording its id in the pid file), then kills what is
# left of that process group, removes the pid file and exits with its status.
# The command travels on stdin so that no wrapper process carries it in its argv.
_WRAPPER = (
    'IFS= read -r b || exit 125; c=$(printf %s "$b" | base64 -d) || exit 125; '
    "p=$1; FRACTAL_SSH_CMD=$c setsid sh -c "
    '\'echo $$ > "$0" && c=$FRACTAL_SSH_CMD && unset FRACTAL_SSH_CMD && '
    'eval "exec $c"\' "$p"; rc=$?; '
    'g=$(cat -- "$p" 2>/dev/null); [ -n "$g" ] && kill -s KILL -- -"$g" 2>/dev/null; '
    'rm -f -- "$p"; exit $rc'
)
# $1: pid file, $2: grace in tenths of a second. SIGTERM the group, SIGKILL later,
# remove the pid file (the wrapper does not survive a dropped connection).
# A command stopped right after its start may not have written its pid file yet:
# wait for it up to 2 s.
_KILLER = (
    'i=0; while [ ! -s "$1" ] && [ "$i" -lt 20 ]; do sleep 0.1; i=$((i+1)); done; '
    'g=$(cat -- "$1" 2>/dev/null); [ -n "$g" ] || exit 0; '
    'kill -s TERM -- -"$g" 2>/dev/null; i=0; '
    'while kill -s 0 -- -"$g" 2>/dev/null && [ "$i" -lt "$2" ]; do '
    "sleep 0.1; i=$((i+1)); done; "
    'kill -s KILL -- -"$g" 2>/dev/null; rm -f -- "$1"; exit 0'
)


def validate_user_name(user: str) -> str:
    """Return `user` if it is a POSIX portable user name, else raise HostError."""
    if not isinstance(user, str) or not _USER_NAME.match(user):
        raise HostError(
            f"Invalid SSH user name {user!r}: expected letters, digits, '.', '_', "
            "'-' (not starting with '-'), at most 32 characters."
        )
    return user


def _env_args(env: Mapping[str, str], what: str) -> list[str]:
    out = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise HostError(f"Invalid environment variable name {key!r} in {what}.")
        if "\0" in str(value):
            raise HostError(f"Environment variable {key!r} in {what} contains NUL.")
        out.append(f"{key}={value}")
    return out


class _Dropped(Exception):
    """Internal: the connection broke during an operation."""


class _Channel:
    """One exec channel: output collected (and streamed) by reader threads."""

    def __init__(self, chan: paramiko.Channel, on_output: OutputCallback | None):
        self.chan = chan
        self.out = bytearray()
        self.err = bytearray()
        self.readers = [
            threading.Thread(target=self._pump, args=(chan.recv, self.out, on_output)),
            threading.Thread(
                target=self._pump, args=(chan.recv_stderr, self.err, on_output)
            ),
        ]
        for t in self.readers:
            t.daemon = True
            t.start()

    @staticmethod
    def _pump(
        recv: Callable[[int], bytes], sink: bytearray, on_output: OutputCallback | None
    ) -> None:
        pending = b""
        while True:
            try:
                data = recv(65536)
            except Exception:  # the channel broke: the waiter reports it
                data = b""
            if not data:
                break
            sink.extend(data)
            if on_output is None:
                continue
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _call_quietly(on_output, line.decode("utf-8", errors="replace"))
        if on_output is not None and pending:
            _call_quietly(on_output, pending.decode("utf-8", errors="replace"))

    def join(self) -> None:
        for t in self.readers:
            t.join(_READER_JOIN_TIMEOUT)

    def text(self) -> tuple[str, str]:
        return (
            self.out.decode("utf-8", errors="replace"),
            self.err.decode("utf-8", errors="replace"),
        )


def _call_quietly(on_output: OutputCallback, line: str) -> None:
    try:
        on_output(line)
    except Exception:  # a faulty callback must not kill the reader
        logger.exception("on_output callback failed")


class SSHHost:
    """Run commands and manage files on `host` as `user`, over SSH with a key.

    `connect_timeout` bounds each connection attempt; `command_timeout` is the
    default `timeout` of `run`; `retries` and `backoff` (seconds, doubled each
    time) apply to connecting and to repeating idempotent operations; `base` is
    the default base folder of `remove_tree`; `env` is added to the environment
    of every command; `known_hosts`, when given, is the only source of trusted
    host keys (otherwise, as with fabric's default, any host key is accepted).
    Hosts with the same login share one connection.
    """

    def __init__(
        self,
        host: str,
        user: str,
        *,
        port: int = 22,
        key_path: str,
        connect_timeout: float = 10,
        command_timeout: float | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        base: str | None = None,
        env: Mapping[str, str] | None = None,
        kill_grace: float = DEFAULT_KILL_GRACE,
        known_hosts: str | None = None,
    ) -> None:
        if not isinstance(host, str) or not _HOST_NAME.match(host):
            raise HostError(f"Invalid SSH host {host!r}.")
        if not (isinstance(port, int) and 0 < port < 65536):
            raise HostError(f"Invalid SSH port {port!r} for host {host!r}.")
        if retries < 0 or backoff < 0 or connect_timeout <= 0:
            raise HostError(
                f"Invalid SSH settings for {host!r}: retries={retries!r}, "
                f"backoff={backoff!r}, connect_timeout={connect_timeout!r}."
            )
        if base is not None and not posixpath.isabs(base):
            raise HostError(f"SSH base folder must be absolute, got base={base!r}.")
        self.login = Login(
            host, port, validate_user_name(user), str(key_path), known_hosts
        )
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.retries = retries
        self.backoff = backoff
        self.base = base
        self.env = dict(env or {})
        _env_args(self.env, "SSHHost env")
        self.kill_grace = kill_grace
        self._shared: SharedConnection = shared_connection(self.login)

    def __repr__(self) -> str:
        return f"SSHHost({str(self.login)!r})"

    # ------------------------------------------------------------ connection

    def _transport(self) -> paramiko.Transport:
        return self._shared.transport(
            connect_timeout=self.connect_timeout,
            retries=self.retries,
            backoff=self.backoff,
        )

    def check(self) -> None:
        """Connect and check the base folder: errors name the host and the step."""
        self._transport()
        if self.base is not None and not self.is_dir(self.base):
            raise HostError(
                f"SSH {self.login}: step 'check base folder' failed: "
                f"base={self.base!r} is missing or not a folder."
            )

    def close(self) -> None:
        """Close the shared connection of this login (the next use reopens it)."""
        self._shared.close()

    def _retry(self, step: str, fn: Callable[[], T], idempotent: bool) -> T:
        """Call `fn`; after a broken connection, again (with backoff) if idempotent."""
        attempts = self.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            try:
                return fn()
            except _Dropped as e:
                if attempt + 1 >= attempts:
                    raise SSHTransportError(
                        f"SSH {self.login}: the connection broke during {step} "
                        f"(attempt {attempt + 1} of {attempts}): {e}"
                    ) from e.__cause__
                logger.warning(
                    "SSH %s: connection broke during %s; retrying: %s",
                    self.login, step, e,
                )  # fmt: skip
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ commands

    def _command_line(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
    ) -> str:
        """The `env ... argv` line the wrapper runs (the only shell string built)."""
        argv = [str(a) for a in argv]
        if not argv:
            raise HostError("Cannot run an empty argument list.")
        if "=" in argv[0] or argv[0].startswith("-"):
            raise HostError(f"Cannot run {argv!r}: unusable program name {argv[0]!r}.")
        prefix = ["env"]
        if cwd is not None:
            prefix.append(f"--chdir={cwd}")
        merged = {**self.env, **(env or {})}
        return shlex.join([*prefix, *_env_args(merged, "run env"), *argv])

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        idempotent: bool = False,
    ) -> CommandResult:
        """Run `argv` remotely (see the module doc); `idempotent` allows a retry."""
        user_argv = tuple(str(a) for a in argv)
        timeout = timeout if timeout is not None else self.command_timeout

        def once() -> CommandResult:
            pid_file = f"/tmp/.fractal-ssh-{uuid.uuid4().hex}.pid"
            line = self._command_line(user_argv, env, cwd)
            rc, out, err = self._execute(line, pid_file, user_argv, timeout, on_output)
            return CommandResult(user_argv, rc, out.decode(errors="replace"),
                                 err.decode(errors="replace"))  # fmt: skip

        logger.debug("run on %s: %r (cwd=%s)", self.login, list(user_argv), cwd)
        res = self._retry(f"command {list(user_argv)!r}", once, idempotent)
        launch = _launch_error(user_argv, res.returncode, res.stderr)
        if launch is not None:
            raise HostError(f"Cannot run {list(user_argv)!r} on {self.login}: {launch}")
        return res

    def _execute(
        self,
        line: str,
        pid_file: str,
        argv: Sequence[str],
        timeout: float | None,
        on_output: OutputCallback | None,
        stdin: bytes | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Run one wrapped command line; `_Dropped` if the connection broke."""
        transport = self._transport()
        wrapper = shlex.join(["sh", "-c", _WRAPPER, "fractal-ssh", pid_file])
        header = base64.b64encode(line.encode("utf-8")) + b"\n"
        try:
            chan = transport.open_session()
            chan.exec_command(wrapper)
            chan.sendall(header)
        except (OSError, EOFError, paramiko.SSHException) as e:
            raise _Dropped(f"cannot start the command: {e}") from e
        ch = _Channel(chan, on_output)
        try:
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            finished = self._wait(chan, timeout)
        except BaseException as e:
            logger.debug("command %r on %s interrupted: stopping it", argv, self.login)
            self._stop_remote(pid_file)
            chan.close()
            ch.join()
            if isinstance(e, (OSError, EOFError, paramiko.SSHException)):
                raise _Dropped(str(e)) from e
            raise
        if not finished:
            self._stop_remote(pid_file)
            chan.close()
            ch.join()
            out, err = ch.text()
            raise CommandTimeoutError(argv, timeout or 0, out, err)
        ch.join()
        status = chan.recv_exit_status()
        chan.close()
        if status == -1:
            self._stop_remote(pid_file, reconnect=True)
            raise _Dropped("no exit status (the connection was cut off)")
        return status, bytes(ch.out), bytes(ch.err)

    def _wait(self, chan: paramiko.Channel, timeout: float | None) -> bool:
        """Wait for the exit status; False on timeout. Interruptible (short waits)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not chan.status_event.wait(_POLL):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not self._shared.transport_alive():
                return True  # the status will be -1: reported as dropped
        return True

    def _stop_remote(self, pid_file: str, *, reconnect: bool = False) -> None:
        """Best effort: SIGTERM the command's group, SIGKILL it after the grace."""
        line = shlex.join(
            ["sh", "-c", _KILLER, "fractal-ssh-kill", pid_file,
             str(max(1, round(self.kill_grace * 10)))]
        )  # fmt: skip
        try:
            if reconnect:
                transport = self._shared.transport(
                    connect_timeout=self.connect_timeout, retries=0, backoff=0
                )
            else:
                transport = self._transport()
            chan = transport.open_session()
            chan.exec_command(line)
            chan.status_event.wait(_KILL_TIMEOUT)
            chan.close()
        except (OSError, EOFError, paramiko.SSHException, HostError) as e:
            logger.warning("SSH %s: could not stop a command: %s", self.login, e)

    def _exec_bytes(
        self, argv: Sequence[str], step: str, stdin: bytes | None = None
    ) -> bytes:
        """Run a short idempotent helper command; its stdout, or HostError."""

        def once() -> tuple[int, bytes, bytes]:
            pid_file = f"/tmp/.fractal-ssh-{uuid.uuid4().hex}.pid"
            line = self._command_line(argv, None, None)
            return self._execute(line, pid_file, argv, None, None, stdin)

        rc, out, err = self._retry(step, once, idempotent=True)
        if rc != 0:
            raise HostError(
                f"SSH {self.login}: {step} failed (exit {rc}): "
                f"{err.decode(errors='replace').strip()}"
            )
        return out

    # ------------------------------------------------------------ files (SFTP)

    def _sftp_op(self, step: str, fn: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run `fn(sftp)` under the SFTP lock, retried after a broken connection."""

        def once() -> T:
            with self._shared.sftp_lock:
                sftp = self._shared.sftp(
                    connect_timeout=self.connect_timeout,
                    retries=self.retries,
                    backoff=self.backoff,
                )
                try:
                    return fn(sftp)
                except (OSError, EOFError, paramiko.SSHException) as e:
                    if _is_file_error(e) and self._shared.transport_alive():
                        raise
                    self._shared.close()
                    raise _Dropped(str(e) or type(e).__name__) from e

        return self._retry(step, once, idempotent=True)

    def _stat(
        self, path: str, *, follow: bool = True
    ) -> paramiko.SFTPAttributes | None:
        def op(sftp: paramiko.SFTPClient) -> paramiko.SFTPAttributes | None:
            try:
                return sftp.stat(path) if follow else sftp.lstat(path)
            except FileNotFoundError:
                return None

        try:
            return self._sftp_op(f"stat of {path!r}", op)
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot stat {path!r}: {e}") from e

    def exists(self, path: str) -> bool:
        """True if `path` exists (following symlinks)."""
        return self._stat(path) is not None

    def is_dir(self, path: str) -> bool:
        """True if `path` is a directory."""
        st = self._stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode or 0)

    def is_file(self, path: str) -> bool:
        """True if `path` is a regular file."""
        st = self._stat(path)
        return st is not None and stat.S_ISREG(st.st_mode or 0)

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder (and its parents), tolerating concurrent creation."""
        if not exist_ok and self.exists(path):
            raise HostError(f"SSH {self.login}: cannot create {path!r}: it exists.")
        if self.is_dir(path):
            return
        todo = [path]
        if parents:
            parent = posixpath.dirname(path.rstrip("/"))
            while parent not in ("", "/") and not self.is_dir(parent):
                todo.append(parent)
                parent = posixpath.dirname(parent)
        for folder in reversed(todo):
            self._mkdir_one(folder)

    def _mkdir_one(self, folder: str) -> None:
        def op(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.mkdir(folder)
            except OSError:
                if not stat.S_ISDIR(sftp.stat(folder).st_mode or 0):
                    raise

        try:
            self._sftp_op(f"mkdir of {folder!r}", op)
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot create {folder!r}: {e}") from e

    def write_text(self, path: str, text: str) -> None:
        """Write a UTF-8 text file, replacing any previous content."""
        data = text.encode("utf-8")

        def op(sftp: paramiko.SFTPClient) -> None:
            with sftp.open(path, "wb") as fh:
                fh.write(data)

        try:
            self._sftp_op(f"write of {path!r}", op)
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot write {path!r}: {e}") from e

    def read_text(self, path: str) -> str:
        """Read a UTF-8 text file."""

        def op(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(path, "rb") as fh:
                fh.prefetch()
                return bytes(fh.read())

        try:
            return self._sftp_op(f"read of {path!r}", op).decode("utf-8")
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot read {path!r}: {e}") from e

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a local file onto the host (SFTP)."""
        try:
            self._sftp_op(
                f"upload to {remote_path!r}",
                lambda sftp: sftp.put(local_path, remote_path),
            )
        except OSError as e:
            raise HostError(
                f"SSH {self.login}: cannot upload {local_path!r} to "
                f"{remote_path!r}: {e}"
            ) from e

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy a file from the host onto this machine (SFTP)."""
        try:
            self._sftp_op(
                f"download of {remote_path!r}",
                lambda sftp: sftp.get(remote_path, local_path),
            )
        except OSError as e:
            raise HostError(
                f"SSH {self.login}: cannot download {remote_path!r} to "
                f"{local_path!r}: {e}"
            ) from e

    # ------------------------------------------------------------ paths

    def realpath(self, path: str) -> str:
        """Resolve symlinks and `..` on the host (missing components allowed)."""
        out = self._exec_bytes(["realpath", "-m", "--", path], f"realpath of {path!r}")
        return out.decode("utf-8").rstrip("\n")

    def remove_tree(self, path: str, *, base: str | None = None) -> None:
        """Remove `path` recursively if it is a real folder strictly inside `base`."""
        base = base if base is not None else self.base
        if base is None:
            raise UnsafePathError(
                f"Refusing removal: no base folder given for path={path!r}."
            )
        check_removal_target(path, base, self.realpath(path), self.realpath(base))
        st = self._stat(path, follow=False)
        if st is not None and stat.S_ISLNK(st.st_mode or 0):
            raise UnsafePathError(f"Refusing removal: path={path!r} is a symlink.")
        if st is None:
            raise HostError(f"Cannot remove {path!r}: No such file or directory.")
        logger.debug("remove_tree %s (base %s) on %s", path, base, self.login)
        self._exec_bytes(["rm", "-rf", "--", path], f"removal of {path!r}")

    # ------------------------------------------------------------ many files

    def put_many(self, local_dir: str, remote_dir: str, names: Sequence[str]) -> None:
        """Copy `names` (relative to `local_dir`) into `remote_dir`: one tar stream."""
        names = check_member_names(names)
        data = pack_tar(local_dir, names)
        self.mkdir(remote_dir)
        self._exec_bytes(
            ["tar", "-x", "-f", "-", "-C", remote_dir],
            f"upload of {len(names)} file(s) to {remote_dir!r}",
            stdin=data,
        )

    def get_many(self, remote_dir: str, local_dir: str, names: Sequence[str]) -> None:
        """Copy `names` (relative to `remote_dir`) into `local_dir`: one tar stream."""
        names = check_member_names(names)
        listing = b"".join(n.encode("utf-8") + b"\0" for n in names)
        data = self._exec_bytes(
            ["tar", "-c", "-f", "-", "-C", remote_dir, "--null",
             "--verbatim-files-from", "-T", "-"],
            f"download of {len(names)} file(s) from {remote_dir!r}",
            stdin=listing,
        )  # fmt: skip
        extract_tar(io.BytesIO(data), local_dir, names)


def _is_file_error(e: BaseException) -> bool:
    """True for an SFTP status error (missing file, permission...), not transport."""
    return (
        isinstance(e, OSError)
        and e.errno is not None
        and not isinstance(e, (ConnectionError, TimeoutError))
    )


def _launch_error(argv: Sequence[str], returncode: int, stderr: str) -> str | None:
    """Why `env` could not start `argv` (program or folder missing), or None."""
    first = stderr.splitlines()[0] if stderr else ""
    if returncode not in (125, 126, 127) or not first.startswith("env: "):
        return None
    if argv[0] in first or "cannot change directory" in first:
        return first
    return None
