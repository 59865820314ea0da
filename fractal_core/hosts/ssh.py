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

Layout: `_ssh_connection.py` (shared connections), `_ssh_command.py` (wrapper
scripts, output readers), `_ssh_session.py` (transport and retries),
`_ssh_files.py` (files); this module adds the `Host` commands on top.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from collections.abc import Sequence

from ._ssh_command import launch_error
from ._ssh_command import validate_user_name
from ._ssh_connection import SSHAuthenticationError
from ._ssh_connection import SSHConnectionError
from ._ssh_connection import SSHHostKeyError
from ._ssh_connection import SSHTransportError
from ._ssh_connection import close_all_connections
from ._ssh_files import SSHFiles
from .base import CommandResult
from .base import HostError
from .base import OutputCallback

__all__ = [
    "SSHAuthenticationError",
    "SSHConnectionError",
    "SSHHost",
    "SSHHostKeyError",
    "SSHTransportError",
    "close_all_connections",
    "validate_user_name",
]

logger = logging.getLogger(__name__)


class SSHHost(SSHFiles):
    """Run commands and manage files on `host` as `user`, over SSH with a key.

    `connect_timeout` bounds each connection attempt; `command_timeout` is the
    default `timeout` of `run`; `retries` and `backoff` (seconds, doubled each
    time) apply to connecting and to repeating idempotent operations; `base` is
    the default base folder of `remove_tree`; `env` is added to the environment
    of every command; `known_hosts`, when given, is the only source of trusted
    host keys (otherwise, as with fabric's default, any host key is accepted).
    Hosts with the same login share one connection.
    """

    def __repr__(self) -> str:
        return f"SSHHost({str(self.login)!r})"

    @property
    def watch_key(self) -> tuple[str, str, int, str]:
        """What makes two hosts one cluster connection (the SLURM watcher's key)."""
        return ("ssh", self.login.host, self.login.port, self.login.user)

    def check(self) -> None:
        """Connect and check the base folder: errors name the host and the step."""
        self._transport()
        if self.base is not None and not self.is_dir(self.base):
            raise HostError(
                f"SSH {self.login}: step 'check base folder' failed: "
                f"base={self.base!r} is missing or not a folder."
            )

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
        launch = launch_error(user_argv, res.returncode, res.stderr)
        if launch is not None:
            raise HostError(f"Cannot run {list(user_argv)!r} on {self.login}: {launch}")
        return res
