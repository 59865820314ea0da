"""A lock taken through the Host seam: a folder made atomically, with its owner record.

A local `filelock` only serialises the processes of this machine; when the task
environments live on another host (`SSHHost`), the lock must live there too, next
to the folders it guards, so that every process reaching that host over any
connection sees it. `mkdir` is atomic on every POSIX file system, so the lock
is the folder `<task-group folder>.lock`; creating it and writing the owner
record inside it (`owner.json`, the `OwnerRecord` of `ownership`) happen in one
remote command. Releasing moves the folder aside (atomic `rename`) and removes it.

A lock whose owner is gone is taken over: the owner ran on this machine and its
process is dead (pid missing or reused, machine rebooted), or the folder has no
readable owner record and is older than `orphan_grace` seconds (a command cut
off between `mkdir` and the record). A lock held by a process of another machine
is broken when its heartbeat is stale (below), or when `foreign_stale_after` is
set and the lock is that old; otherwise the error names the lock's path and its
owner, for a human to decide.

Heartbeat (`lock_heartbeat`). The lock folder also holds `heartbeat`, created
with the owner record; while the lock is held, a thread of the lock touches it
every `heartbeat_interval` seconds, and it is stopped and joined on release. A
waiter reads the heartbeat's age on the host's own clock; a foreign lock whose
heartbeat is older than `heartbeat_stale_after` seconds (and than three of the
holder's intervals, which the file records) is taken over like any stale lock.
A lock without a heartbeat file (an older version, or `heartbeat_interval=None`)
keeps the rules above.
Every shell script below is a fixed string; paths and records are positional
arguments, which the host quotes.
"""

from __future__ import annotations

import logging
import posixpath
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from json import dumps
from types import TracebackType

from ..hosts import Host
from ..hosts import HostError
from .errors import TaskLifecycleError
from .lock_heartbeat import HEARTBEAT_INTERVAL
from .lock_heartbeat import HEARTBEAT_STALE_AFTER
from .lock_heartbeat import HOLDER_INTERVALS
from .lock_heartbeat import Heartbeat
from .ownership import OwnerRecord
from .ownership import OwnerState

logger = logging.getLogger(__name__)

OWNER_FILE = "owner.json"
ORPHAN_GRACE = 60.0
"""Seconds after which a lock folder without a readable owner record is stale."""
FIRST_POLL = 0.1
MAX_POLL = 2.0

_BUSY = 3
# $1 lock folder, $2 owner record, $3 heartbeat interval ('' = no heartbeat).
# Exit 0: taken; 3: the folder exists; else error.
_TAKE = (
    'if ! mkdir -- "$1" 2>/dev/null; then [ -e "$1" ] || [ -L "$1" ] && exit 3; '
    'mkdir -- "$1"; exit 2; fi; '
    'printf \'%s\\n\' "$2" > "$1/owner.json" && '
    '{ [ -z "$3" ] || printf \'%s\' "$3" > "$1/heartbeat"; } && exit 0; '
    'rm -rf -- "$1"; exit 2'
)
# $1 lock folder. Prints the folder's age in seconds; the heartbeat's age and
# the holder's interval, or '-' without a heartbeat; then the owner record.
_PEEK = (
    '[ -d "$1" ] && [ ! -L "$1" ] || exit 3; '
    'now=$(date +%s); m=$(stat -c %Y -- "$1") || exit 3; '
    'echo "$((now - m))"; '
    'if b=$(stat -c %Y -- "$1/heartbeat" 2>/dev/null); then '
    'echo "$((now - b)) $(head -c 32 -- "$1/heartbeat" 2>/dev/null)"; '
    "else echo -; fi; "
    'cat -- "$1/owner.json" 2>/dev/null; exit 0'
)
# $1 lock folder, $2 owner token ('' = no record), $3 unused name beside it.
# Moves the lock aside if it still belongs to that owner, then removes it.
_DROP = (
    'if [ -n "$2" ]; then grep -q -F -e "$2" -- "$1/owner.json" 2>/dev/null || exit 3; '
    'elif [ -e "$1/owner.json" ]; then exit 3; fi; '
    'mv -T -- "$1" "$3" 2>/dev/null || exit 3; rm -rf -- "$3"'
)


@dataclass(frozen=True)
class LockHolder:
    """What a held lock folder says about its owner."""

    age: float
    record: OwnerRecord | None
    heartbeat_age: float | None = None
    """Seconds since the holder last refreshed its heartbeat; None without one."""
    heartbeat_interval: float | None = None
    """The holder's refresh interval, as its heartbeat file records it."""

    def describe(self) -> str:
        """`held by pid=... on host ... since ...` for messages."""
        if self.record is None:
            return f"no readable owner record, created {self.age:.0f} s ago"
        text = f"held by {self.record.describe()} since {self.record.timestamp}"
        if self.heartbeat_age is None:
            return text
        return f"{text}, last heartbeat {self.heartbeat_age:.0f} s ago"


def _parse_heartbeat(line: str) -> tuple[float | None, float | None]:
    """`(age, holder's interval)` from the heartbeat line of `_PEEK`."""
    parts = line.split()
    try:
        age = float(parts[0])
    except (IndexError, ValueError):
        return None, None
    try:
        interval: float | None = float(parts[1])
    except (IndexError, ValueError):
        interval = None
    if interval is not None and not interval > 0:
        interval = None
    return age, interval


def lock_folder(path: str) -> str:
    """The lock folder guarding task-group folder `path` (its sibling)."""
    return path.rstrip("/") + ".lock"


class HostLock:
    """An exclusive lock on `host`, guarding the folder `path` (not re-entrant).

    `timeout` is in seconds (-1 waits forever, 0 tries once); `on_wait` is
    called with a message once when the lock is busy, and when a stale lock
    is taken over (operations pass their activity log's `write`). While held,
    the heartbeat is refreshed every `heartbeat_interval` seconds (None: no
    heartbeat); a foreign lock whose heartbeat is older than
    `heartbeat_stale_after` is stale (None: never judged by its heartbeat).
    """

    def __init__(
        self,
        host: Host,
        path: str,
        *,
        timeout: float = -1,
        on_wait: Callable[[str], None] | None = None,
        orphan_grace: float = ORPHAN_GRACE,
        foreign_stale_after: float | None = None,
        heartbeat_interval: float | None = HEARTBEAT_INTERVAL,
        heartbeat_stale_after: float | None = HEARTBEAT_STALE_AFTER,
    ) -> None:
        self.host = host
        self.path = path
        self.lock = lock_folder(path)
        self.timeout = timeout
        self.on_wait = on_wait
        self.orphan_grace = orphan_grace
        self.foreign_stale_after = foreign_stale_after
        self.token = uuid.uuid4().hex
        self.held = False
        self.heartbeat_stale_after = heartbeat_stale_after
        self.heartbeat: Heartbeat | None = None
        """The refreshing thread's owner; None when `heartbeat_interval` is None."""
        if heartbeat_interval is not None:
            self.heartbeat = Heartbeat(host, self.lock, self.token, heartbeat_interval)

    def __enter__(self) -> str:
        self.acquire()
        return self.lock

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _sh(self, script: str, *args: str) -> tuple[int, str, str]:
        res = self.host.run(["sh", "-c", script, "fractal-lock", *args])
        return res.returncode, res.stdout, res.stderr

    def _take(self) -> bool:
        """One attempt: True if this call created the lock folder."""
        record = dumps(asdict(OwnerRecord.current(self.token, self.path)))
        try:
            rc, _, err = self._sh(_TAKE, self.lock, record, self._heartbeat_content)
        except HostError:  # outcome unknown (e.g. a dropped connection): look
            holder = self.holder()
            if holder and holder.record and holder.record.token == self.token:
                return True
            raise
        if rc == _BUSY:
            return False
        if rc != 0:
            raise TaskLifecycleError(
                f"Cannot create the lock folder {self.lock} on {self.host!r}: "
                f"{err.strip()[-1000:]}"
            )
        return True

    @property
    def _heartbeat_content(self) -> str:
        """The heartbeat file's content: our interval, '' for no heartbeat."""
        return "" if self.heartbeat is None else f"{self.heartbeat.interval:g}"

    def holder(self) -> LockHolder | None:
        """The current state of the lock folder, None if it is not there."""
        rc, out, _ = self._sh(_PEEK, self.lock)
        if rc != 0:
            return None
        first, _, rest = out.partition("\n")
        beat, _, rest = rest.partition("\n")
        try:
            age = float(first)
        except ValueError:
            return None
        record = OwnerRecord.parse(rest) if rest.strip() else None
        return LockHolder(age, record, *_parse_heartbeat(beat))

    def is_stale(self, holder: LockHolder) -> bool:
        """True if the lock's owner is known to be gone (see the module doc)."""
        if holder.record is None:
            return holder.age > self.orphan_grace
        state = holder.record.state()
        if state == OwnerState.DEAD:
            return True
        if state != OwnerState.UNKNOWN:
            return False
        after = self.foreign_stale_after
        if after is not None and holder.age > after:
            return True
        return self._heartbeat_stale(holder)

    def _heartbeat_stale(self, holder: LockHolder) -> bool:
        """True if the holder's heartbeat stopped (False without a heartbeat)."""
        if self.heartbeat_stale_after is None or holder.heartbeat_age is None:
            return False
        limit = self.heartbeat_stale_after
        if holder.heartbeat_interval is not None:
            limit = max(limit, HOLDER_INTERVALS * holder.heartbeat_interval)
        return holder.heartbeat_age > limit

    def _drop(self, token: str, why: str) -> bool:
        """Move the lock folder aside and remove it if `token` still owns it."""
        aside = f"{self.lock}.{why}-{uuid.uuid4().hex[:12]}"
        rc, _, _ = self._sh(_DROP, self.lock, token, aside)
        return rc == 0

    def _break_stale(self, holder: LockHolder) -> None:
        token = holder.record.token if holder.record is not None else ""
        if self._drop(token, "stale"):
            message = (
                f"Took over the stale lock {self.lock} on {self.host!r} "
                f"({holder.describe()})."
            )
            logger.warning(message)
            if self.on_wait is not None:
                self.on_wait(message)

    def acquire(self) -> None:
        """Take the lock, waiting up to `timeout`; TaskLifecycleError otherwise."""
        self.host.mkdir(posixpath.dirname(self.lock))
        deadline = None if self.timeout < 0 else time.monotonic() + self.timeout
        poll, told = FIRST_POLL, False
        while not self._take():
            holder = self.holder()
            if holder is not None and self.is_stale(holder):
                self._break_stale(holder)
                continue
            what = holder.describe() if holder is not None else "just released"
            if deadline is not None and time.monotonic() >= deadline:
                raise TaskLifecycleError(
                    f"Could not acquire the lock {self.lock} on {self.host!r} "
                    f"within {self.timeout} seconds ({what})."
                )
            if not told and self.on_wait is not None:
                self.on_wait(
                    f"Waiting for the lock {self.lock} on {self.host!r} ({what})."
                )
            told = True
            time.sleep(poll if deadline is None else min(poll, self._left(deadline)))
            poll = min(poll * 1.5, MAX_POLL)
        self.held = True
        if self.heartbeat is not None:
            try:
                self.heartbeat.start()
            except BaseException:  # e.g. no thread can start: do not keep the lock
                self.release()
                raise
        logger.debug("Took the lock %s on %r", self.lock, self.host)

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())

    def release(self) -> None:
        """Give the lock back (a lock taken over meanwhile is left to its new owner).

        The heartbeat is stopped and joined first, so it never outlives the lock.
        """
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if not self.held:
            return
        self.held = False
        for attempt in (1, 2):
            try:
                if not self._drop(self.token, "released"):
                    logger.warning(
                        "Lock %s on %r was no longer ours at release.",
                        self.lock, self.host,
                    )  # fmt: skip
                return
            except HostError as e:  # e.g. a dropped connection: try once more
                logger.warning(
                    "Releasing the lock %s on %r failed (attempt %d): %s",
                    self.lock, self.host, attempt, e,
                )  # fmt: skip
