"""The transport half of `SSHHost`: one login, wrapped commands, retries, SFTP.

`SSHSession` holds the settings of one login and its shared connection
(`_ssh_connection.py`), runs wrapped command lines (`_ssh_command.py`) and
says when the connection broke (`Dropped`), retrying an operation with
backoff only when it is safe to repeat. `SSHFiles` (files) and `SSHHost`
(the `Host` seam) build on it.
"""

from __future__ import annotations

import base64
import logging
import posixpath
import shlex
import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TypeVar

import paramiko

from ._ssh_command import DEFAULT_KILL_GRACE
from ._ssh_command import HOST_NAME
from ._ssh_command import KILL_TIMEOUT
from ._ssh_command import KILLER
from ._ssh_command import POLL
from ._ssh_command import WRAPPER
from ._ssh_command import Dropped
from ._ssh_command import OutputChannel
from ._ssh_command import is_file_error
from ._ssh_command import validate_user_name
from ._ssh_connection import Login
from ._ssh_connection import SharedConnection
from ._ssh_connection import SSHTransportError
from ._ssh_connection import shared_connection
from .base import CommandTimeoutError
from .base import HostError
from .base import OutputCallback
from .sudo import _validate_env as env_args  # one rule for every host's env

logger = logging.getLogger("fractal_core.hosts.ssh")

T = TypeVar("T")


class SSHSession:
    """One login's settings and shared connection (see `SSHHost` for the options)."""

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
        if not isinstance(host, str) or not HOST_NAME.match(host):
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
        env_args(self.env, "SSHHost env")
        self.kill_grace = kill_grace
        self._shared: SharedConnection = shared_connection(self.login)

    # ------------------------------------------------------------ connection

    def _transport(self) -> paramiko.Transport:
        return self._shared.transport(
            connect_timeout=self.connect_timeout,
            retries=self.retries,
            backoff=self.backoff,
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
            except Dropped as e:
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
        return shlex.join([*prefix, *env_args(merged, "run env"), *argv])

    def _execute(
        self,
        line: str,
        pid_file: str,
        argv: Sequence[str],
        timeout: float | None,
        on_output: OutputCallback | None,
        stdin: bytes | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Run one wrapped command line; `Dropped` if the connection broke."""
        transport = self._transport()
        wrapper = shlex.join(["sh", "-c", WRAPPER, "fractal-ssh", pid_file])
        header = base64.b64encode(line.encode("utf-8")) + b"\n"
        self._shared.commands += 1
        try:
            chan = transport.open_session()
            chan.exec_command(wrapper)
            chan.sendall(header)
        except (OSError, EOFError, paramiko.SSHException) as e:
            raise Dropped(f"cannot start the command: {e}") from e
        ch = OutputChannel(chan, on_output)
        try:
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            finished = self._wait(chan, timeout)
        except BaseException as e:
            logger.debug("command %r on %s interrupted: stopping it", argv, self.login)
            self._stop_remote(pid_file)
            _close_quietly(chan)
            ch.join()
            if isinstance(e, (OSError, EOFError, paramiko.SSHException)):
                raise Dropped(str(e)) from e
            raise
        if not finished:
            self._stop_remote(pid_file)
            _close_quietly(chan)
            ch.join()
            out, err = ch.text()
            raise CommandTimeoutError(argv, timeout or 0, out, err)
        ch.join()
        status = chan.recv_exit_status()
        _close_quietly(chan)
        if status == -1:
            self._stop_remote(pid_file, reconnect=True)
            raise Dropped("no exit status (the connection was cut off)")
        return status, bytes(ch.out), bytes(ch.err)

    def _wait(self, chan: paramiko.Channel, timeout: float | None) -> bool:
        """Wait for the exit status; False on timeout. Interruptible (short waits)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not chan.status_event.wait(POLL):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not self._shared.transport_alive():
                return True  # the status will be -1: reported as dropped
        return True

    def _stop_remote(self, pid_file: str, *, reconnect: bool = False) -> None:
        """Best effort: SIGTERM the command's group, SIGKILL it after the grace."""
        line = shlex.join(
            ["sh", "-c", KILLER, "fractal-ssh-kill", pid_file,
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
            chan.status_event.wait(KILL_TIMEOUT)
            _close_quietly(chan)
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
                self._shared.sftp_ops += 1
                sftp = self._shared.sftp(
                    connect_timeout=self.connect_timeout,
                    retries=self.retries,
                    backoff=self.backoff,
                )
                try:
                    return fn(sftp)
                except (OSError, EOFError, paramiko.SSHException) as e:
                    if is_file_error(e) and self._shared.transport_alive():
                        raise
                    self._shared.close()
                    raise Dropped(str(e) or type(e).__name__) from e

        return self._retry(step, once, idempotent=True)


def _close_quietly(chan: paramiko.Channel) -> None:
    """Close a channel whose connection may be gone already (EOF, socket errors)."""
    try:
        chan.close()
    except (OSError, EOFError, paramiko.SSHException) as e:
        logger.debug("closing a channel on a broken connection: %s", e)
