"""Owner records of folders being built, so that a crash leaves a recognisable trace.

Before an operation builds a folder (a new task group's folder, a venv being
rebuilt), it writes `<folder>.owner.json` beside it: host name, pid, the
process's start time and boot id (from /proc), a timestamp, the path whose lock
guards the folder, and a token that every command of the operation carries in
its environment (`FRACTAL_COLLECTION_TOKEN`). The record goes away when the
operation ends, successfully or after cleaning up.

A record left behind names its owner: if that process is gone (same host; pid
missing, or reused by a process with another start time, or the machine
rebooted), a later operation holding the lock removes the half-built folder and
kills the dead owner's leftover commands (same user, same token), on the host
where they run (this machine, or the remote side of an `SSHHost`). A folder with
no record is a collected group and is never touched by this module.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from enum import StrEnum

from ..hosts import Host
from ..hosts import LocalHost
from .activity import ActivityLog

logger = logging.getLogger(__name__)

MARKER_SUFFIX = ".owner.json"
TOKEN_ENV = "FRACTAL_COLLECTION_TOKEN"
"""Environment variable carrying the operation's token into every command."""

Note = Callable[[str], None]

_TOKEN_FORMAT = re.compile(r"[0-9a-f]{32}")
"""Tokens are uuid4 hex strings; a record with anything else kills nothing."""


class OwnerState(StrEnum):
    """What can be said about the process named by an owner record."""

    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"  # another host: cannot be checked from here


def _read_first_line(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.readline().strip() or None
    except OSError:
        return None


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (/proc), None if unknown."""
    line = _read_first_line(f"/proc/{pid}/stat")
    if line is None or ")" not in line:
        return None
    fields = line.rsplit(")", 1)[1].split()
    try:
        return int(fields[19])  # field 22 of stat; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def boot_id() -> str | None:
    """This boot's random id (Linux), None elsewhere."""
    return _read_first_line("/proc/sys/kernel/random/boot_id")


def _optional_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


@dataclass(frozen=True)
class OwnerRecord:
    """Who is building a folder, precisely enough to tell later if it died."""

    host: str
    pid: int
    start_time: int | None
    boot_id: str | None
    timestamp: str
    token: str
    locked_path: str

    @classmethod
    def current(cls, token: str, locked_path: str) -> OwnerRecord:
        """A record naming this process."""
        pid = os.getpid()
        return cls(
            host=socket.gethostname(),
            pid=pid,
            start_time=process_start_time(pid),
            boot_id=boot_id(),
            timestamp=datetime.now(tz=UTC).isoformat(),
            token=token,
            locked_path=locked_path,
        )

    @classmethod
    def parse(cls, text: str) -> OwnerRecord | None:
        """The record in `text`, None if it is not a valid record."""
        try:
            data = json.loads(text)
            return cls(
                host=str(data["host"]),
                pid=int(data["pid"]),
                start_time=_optional_int(data["start_time"]),
                boot_id=data["boot_id"],
                timestamp=str(data["timestamp"]),
                token=str(data["token"]),
                locked_path=str(data["locked_path"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        """`pid=... on host ...` for log lines."""
        return f"pid={self.pid} on host {self.host}"

    def state(self) -> OwnerState:
        """Alive, dead, or unknown (recorded on another host)."""
        if self.host != socket.gethostname():
            return OwnerState.UNKNOWN
        current_boot = boot_id()
        if self.boot_id and current_boot and self.boot_id != current_boot:
            return OwnerState.DEAD
        start = process_start_time(self.pid)
        if start is None:
            return _state_without_proc(self.pid)
        if self.start_time is not None and start != self.start_time:
            return OwnerState.DEAD  # the pid now belongs to another process
        return OwnerState.ALIVE


def _state_without_proc(pid: int) -> OwnerState:
    """Fallback when /proc says nothing about `pid`: does the pid exist at all?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return OwnerState.DEAD
    except PermissionError:
        return OwnerState.ALIVE
    return OwnerState.ALIVE


def marker_path(target: str) -> str:
    """Where the owner record of folder `target` lives (beside it)."""
    return target.rstrip("/") + MARKER_SUFFIX


def read_owner(host: Host, target: str) -> OwnerRecord | None:
    """The owner record of `target`, None when there is none (or it is unreadable)."""
    marker = marker_path(target)
    if not host.exists(marker):
        return None
    try:
        text = host.read_text(marker)
    except Exception:  # a vanished or unreadable record counts as none
        return None
    record = OwnerRecord.parse(text)
    if record is None:
        logger.warning("Ignoring unreadable owner record %s", marker)
    return record


def claim(host: Host, target: str, token: str, locked_path: str) -> OwnerRecord:
    """Write this process's owner record beside `target` (before building it)."""
    record = OwnerRecord.current(token, locked_path)
    host.mkdir(posixpath.dirname(target.rstrip("/")))
    host.write_text(marker_path(target), json.dumps(asdict(record), indent=2))
    return record


def release(host: Host, target: str) -> None:
    """Remove the owner record of `target` if it is there."""
    marker = marker_path(target)
    if host.exists(marker):
        host.remove_tree(marker, base=posixpath.dirname(marker))


def release_if_gone(host: Host, target: str) -> None:
    """After a failure: drop the record once the half-built folder is gone.

    If the folder could not be removed the record stays, so that a later
    operation can clean it once this process has ended.
    """
    if not host.exists(target):
        release(host, target)


def remove_partial(host: Host, target: str, base: str, log: ActivityLog) -> None:
    """After a failure: remove the half-built `target` (inside `base`), then its record.

    Removal errors are logged, not raised (the operation is failing already).
    """
    try:
        if host.exists(target):
            host.remove_tree(target, base=base)
            log.write(f"Removed {target}")
        release_if_gone(host, target)
    except Exception as e:
        log.write(f"Removing {target} failed: {e}", logging.ERROR)


def _proc_uid(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _has_token(pid: str, token: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except OSError:
        return False
    return f"{TOKEN_ENV}={token}".encode() in environ.split(b"\0")


def token_processes(token: str) -> list[int]:
    """Pids of this user's processes (not this one) whose environment has `token`."""
    if not os.path.isdir("/proc"):
        return []
    me, uid = os.getpid(), os.getuid()
    return [
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit()
        and int(name) != me
        and _proc_uid(name) == uid
        and _has_token(name, token)
    ]


def kill_token_processes(token: str, rounds: int = 5) -> list[int]:
    """SIGKILL every process carrying `token` (repeated: they may have forked)."""
    killed: list[int] = []
    for _ in range(rounds):
        pids = token_processes(token)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
    return sorted(set(killed))


# $1: the token variable's assignment. Kills (SIGKILL) this user's processes
# whose environment holds it, in rounds (they may fork), printing their pids.
_KILL_TOKEN = (
    "me=$$; for round in 1 2 3 4 5; do found=; "
    'for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$me" ] && continue; '
    "if tr '\\000' '\\n' < \"$d/environ\" 2>/dev/null | grep -q -x -F -e \"$1\"; "
    'then kill -s KILL "$p" 2>/dev/null && echo "$p" && found=1; fi; done; '
    '[ -n "$found" ] || break; sleep 0.05; done; exit 0'
)


def kill_host_token_processes(host: Host, token: str) -> list[int]:
    """SIGKILL the processes on `host` (of its user) whose environment has `token`.

    The same as `kill_token_processes`, for a host reached through the seam:
    one fixed script scanning the host's /proc, the token as its argument.
    """
    if not _TOKEN_FORMAT.fullmatch(token):
        return []
    res = host.run(["sh", "-c", _KILL_TOKEN, "fractal-kill", f"{TOKEN_ENV}={token}"])
    return sorted({int(p) for p in res.stdout.split() if p.isdigit()})


def kill_leftovers(host: Host, token: str) -> list[int]:
    """Kill a dead owner's leftover commands, wherever `host` runs them."""
    if not _TOKEN_FORMAT.fullmatch(token):
        return []
    if isinstance(host, LocalHost):
        return kill_token_processes(token)
    return kill_host_token_processes(host, token)


def is_stale(host: Host, target: str) -> bool:
    """True if `target` has an owner record whose process is dead."""
    record = read_owner(host, target)
    return record is not None and record.state() == OwnerState.DEAD


def recover_stale(host: Host, target: str, base: str, note: Note | None) -> bool:
    """Clean `target` if its owner record names a dead process; True if cleaned.

    The caller must hold the lock of `record.locked_path`. Leftover commands of
    the dead owner are killed first, on the host where they run.
    """
    record = read_owner(host, target)
    if record is None or record.state() != OwnerState.DEAD:
        return False
    killed = kill_leftovers(host, record.token)
    removed = host.exists(target)
    if removed:
        host.remove_tree(target, base=base)
    release(host, target)
    what = "a half-built folder" if removed else "the owner record of"
    message = (
        f"Recovery: removed {what} left by dead process {record.describe()} "
        f"(started {record.timestamp}): {target}"
    )
    if killed:
        message += f"; killed its leftover processes {killed}"
    logger.warning(message)
    if note is not None:
        note(message)
    return True
