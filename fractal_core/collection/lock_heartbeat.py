"""The heartbeat of a held `HostLock`: a thread refreshing `<lock>/heartbeat`.

While a lock is held, one daemon thread owned by the lock runs one fixed
command on the host every `interval` seconds: if the lock's owner record still
carries our token, `touch` the heartbeat file (its mtime is the host's clock,
which is also the clock waiters compare it with, so machines need not agree on
the time). The file's content is the holder's interval, written once when the
lock is taken, so that a waiter never judges a heartbeat stale sooner than a
few of the holder's own intervals. A failed refresh (e.g. a broken connection)
is logged at WARNING and tried again at the next interval; it never reaches the
operation holding the lock. `stop` ends and joins the thread.
"""

from __future__ import annotations

import logging
import threading

from ..hosts import Host

logger = logging.getLogger(__name__)

HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_INTERVAL = 15.0
"""Seconds between two refreshes of a held lock's heartbeat."""
HEARTBEAT_STALE_AFTER = 120.0
"""Seconds without a refresh after which a foreign lock's heartbeat is stale."""
HOLDER_INTERVALS = 3
"""A heartbeat is never stale sooner than this many of its holder's intervals."""
BEAT_TIMEOUT = 60.0
"""Upper bound of one refresh command, so that `stop` never waits on a hang."""

_LOST = 3
# $1 lock folder, $2 our token. Exit 0: refreshed; 3: the lock is not ours.
_BEAT = (
    'grep -q -F -e "$2" -- "$1/owner.json" 2>/dev/null || exit 3; '
    'touch -- "$1/heartbeat"'
)


class Heartbeat:
    """Refreshes the heartbeat of lock folder `lock` (owned by `token`) on `host`."""

    def __init__(self, host: Host, lock: str, token: str, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"heartbeat_interval must be positive (given {interval}).")
        self.host = host
        self.lock = lock
        self.token = token
        self.interval = interval
        self.beats = 0
        """Successful refreshes so far (for callers and tests)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._lost = False

    @property
    def running(self) -> bool:
        """True while the refreshing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start refreshing every `interval` seconds (in a daemon thread)."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"fractal-lock-heartbeat {self.lock}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing and join the thread (at most one refresh in flight)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """One refresh; failures are logged, never raised."""
        argv = ["sh", "-c", _BEAT, "fractal-lock-heartbeat", self.lock, self.token]
        try:
            res = self.host.run(argv, timeout=max(BEAT_TIMEOUT, self.interval))
        except Exception as e:  # a heartbeat never ends the operation holding the lock
            self._failed(str(e))
            return
        if res.returncode == _LOST:
            if not self._lost:
                logger.warning(
                    "Heartbeat: the lock %s on %r is no longer ours (taken over?).",
                    self.lock, self.host,
                )  # fmt: skip
            self._lost = True
        elif res.returncode != 0:
            self._failed(res.stderr.strip()[-500:] or f"exit {res.returncode}")
        else:
            self._refreshed()

    def _failed(self, why: str) -> None:
        self._failing = True
        logger.warning(
            "Heartbeat of the lock %s on %r failed (next try in %s s): %s",
            self.lock, self.host, self.interval, why,
        )  # fmt: skip

    def _refreshed(self) -> None:
        self.beats += 1
        if self._failing or self._lost:
            logger.info("Heartbeat of the lock %s on %r is back.", self.lock, self.host)
        self._failing = self._lost = False
