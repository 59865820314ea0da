"""SSH commands: the remote wrapper scripts, argument checks and output readers.

Used by `SSHHost` (`ssh.py`): the wrapper runs each command as the leader of a
process group of its own and the killer stops that group; `OutputChannel`
collects (and streams) a command's output; `launch_error` tells an `env` that
could not start a program from the program's own exit code.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from collections.abc import Sequence

import paramiko

from .base import HostError
from .base import OutputCallback

logger = logging.getLogger("fractal_core.hosts.ssh")

_USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
HOST_NAME = re.compile(r"^[A-Za-z0-9_.:\[\]-]{1,253}$")

DEFAULT_KILL_GRACE = 2.0
_READER_JOIN_TIMEOUT = 5.0
KILL_TIMEOUT = 60.0
POLL = 0.05

# $1: pid file. Reads the command line (base64, first line of stdin), runs it as
# leader of a new session (recording its id in the pid file), then kills what is
# left of that process group, removes the pid file and exits with its status.
# The command travels on stdin so that no wrapper process carries it in its argv.
WRAPPER = (
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
KILLER = (
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


class Dropped(Exception):
    """Internal: the connection broke during an operation."""


class OutputChannel:
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


def is_file_error(e: BaseException) -> bool:
    """True for an SFTP status error (missing file, permission...), not transport."""
    return (
        isinstance(e, OSError)
        and e.errno is not None
        and not isinstance(e, (ConnectionError, TimeoutError))
    )


def launch_error(argv: Sequence[str], returncode: int, stderr: str) -> str | None:
    """Why `env` could not start `argv` (program or folder missing), or None."""
    first = stderr.splitlines()[0] if stderr else ""
    if returncode not in (125, 126, 127) or not first.startswith("env: "):
        return None
    if argv[0] in first or "cannot change directory" in first:
        return first
    return None
