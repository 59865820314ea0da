"""Finding and killing every process of one unit, including orphaned children.

Each unit's process starts a new session (`start_new_session=True`), so its
session id equals the leader's pid and every descendant inherits it unless it
calls `setsid` itself. Children outlive their leader (reparented to init) but keep
the session id, so they are found by scanning `/proc/<pid>/stat`.

Safety: a session id can only be trusted while it cannot belong to somebody else.
The kernel does not reuse a pid while any process still uses it as a session or
group id, or while the leader is an unreaped zombie. `SessionRef.is_ours` adds a
check of the leader's start time for the case where the leader has been reaped
(after a restart, `attach`). Without `/proc` (not Linux) only the process group
is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    """The few fields of `/proc/<pid>/stat` used here."""

    pid: int
    state: str
    pgrp: int
    session: int
    start_time: int  # clock ticks after boot


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat fields, or None if it does not exist (or no /proc)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after it
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode(),
            pgrp=int(fields[2]),
            session=int(fields[3]),
            start_time=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def start_time_of(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), None if unknown."""
    stat = read_stat(pid)
    return None if stat is None else stat.start_time


def _alive(stat: ProcStat | None) -> bool:
    return stat is not None and stat.state not in ("Z", "X")


def has_proc() -> bool:
    """True where `/proc/<pid>/stat` can be read (Linux)."""
    return (_PROC / "self" / "stat").exists()


@dataclass(frozen=True)
class SessionRef:
    """The session of a unit's process: its id (the leader pid) and start time."""

    sid: int
    start_time: int | None = None  # leader's; None if not recorded

    def is_ours(self) -> bool:
        """False if the pid now names another process than the recorded leader."""
        if self.start_time is None:
            return True
        leader = read_stat(self.sid)
        return leader is None or leader.start_time == self.start_time

    def members(self) -> list[int]:
        """Pids of live (non-zombie) processes of the session, leader included."""
        if not self.is_ours():
            return []
        found = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(_PROC):
                if entry.name.isdigit():
                    stat = read_stat(int(entry.name))
                    if _alive(stat) and stat is not None and stat.session == self.sid:
                        found.append(stat.pid)
        return found

    def group_alive(self) -> bool:
        """Cheap check: does any process remain in the leader's process group?"""
        try:
            os.killpg(self.sid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal(self, sig: int) -> int:
        """Send `sig` to the leader's group and to every other session member."""
        if not self.is_ours():
            return 0
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.sid, sig)
        count = 0
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
                count += 1
        return count

    def wait_empty(self, timeout: float) -> bool:
        """Poll until no live member remains; False if some survive `timeout`."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            if not self.members() if has_proc() else not self.group_alive():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def terminate(self, grace: float, *, kill_timeout: float = 10.0) -> bool:
        """SIGTERM everyone, SIGKILL whoever is left after `grace`; True if all gone."""
        self.signal(signal.SIGTERM)
        if self.wait_empty(grace):
            return True
        self.signal(signal.SIGKILL)
        return self.wait_empty(kill_timeout)
