"""One poller per cluster connection: `squeue` for every watched job at once.

A `SlurmWatcher` holds the SLURM job ids of every handle of every executor
that reaches the cluster through one host (same machine and user, the same
sudo user, later one SSH connection). Each round (at most one per `interval`
seconds) it runs ONE `squeue -h -o '%i %T' -j <all ids>`, tells each listener
the states of its live jobs, and resolves every job that left the queue from
its final state:

1. `sacct` (where accounting exists; once it says "accounting storage is
   disabled" it is not asked again),
2. `scontrol -o show job <id>` (finished jobs stay there `MinJobAge` seconds),
3. the jobcomp file (`JobCompType=jobcomp/filetxt`) when one is configured.

A job no source knows is reported `VANISHED` (never "gone means completed");
the handle then judges its units by the files they left. When `squeue`
itself fails (transport error, controller down) the states are unknown:
nothing is resolved, the round is retried at the next interval, and after
`give_up_after` seconds of failures in a row every watched job is reported
`VANISHED` so no handle waits forever.

`watcher_for(host, ...)` returns the shared watcher of a host from a registry
keyed by the host's identity: the one process-wide object of this package,
holding no thread while no job is watched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Protocol

from ...hosts.base import CommandResult
from ...hosts.base import Host
from ...hosts.base import HostError
from .failures import FINAL_STATES
from .failures import JobFinal
from .failures import accounting_disabled
from .failures import invalid_job_id
from .failures import parse_jobcomp
from .failures import parse_sacct
from .failures import parse_scontrol
from .failures import parse_squeue
from .failures import vanished

logger = logging.getLogger(__name__)

SQUEUE_CHUNK = 500
"""Job ids per `squeue -j` call (keeps command lines short)."""


class JobListener(Protocol):
    """What a watcher tells a handle about its jobs (called from its thread)."""

    def jobs_polled(self, states: Mapping[str, str]) -> None:
        """States (`PENDING`, `RUNNING`, ...) of this listener's live jobs."""
        ...

    def job_ended(self, final: JobFinal) -> None:
        """A job left the queue; `final` says how (maybe `VANISHED`)."""
        ...


@dataclass
class WatcherStats:
    """How many SLURM commands a watcher ran (for benchmarks and tests)."""

    rounds: int = 0
    squeue: int = 0
    sacct: int = 0
    scontrol: int = 0
    jobcomp: int = 0
    failures: int = 0


class SlurmWatcher:
    """Polls the queue for all jobs watched on one host (see module doc)."""

    def __init__(
        self,
        host: Host,
        *,
        env: Mapping[str, str] | None = None,
        interval: float = 2.0,
        jobcomp_file: str | None = None,
        give_up_after: float = 600.0,
        command_timeout: float = 60.0,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval={interval!r} must be a positive number.")
        self.host = host
        self.env = dict(env or {})
        self.interval = interval
        self.jobcomp_file = jobcomp_file
        self.give_up_after = give_up_after
        self.command_timeout = command_timeout
        self.stats = WatcherStats()
        self._cond = threading.Condition()
        self._jobs: dict[str, JobListener] = {}
        self._thread: threading.Thread | None = None
        self._use_sacct = True
        self._failing_since: float | None = None
        self._last_round = 0.0
        self._round_lock = threading.Lock()

    # -- registration --------------------------------------------------------------

    def watch(self, job_ids: Iterable[str], listener: JobListener) -> None:
        """Watch `job_ids` for `listener` until each has ended."""
        with self._cond:
            for job_id in job_ids:
                self._jobs[str(job_id)] = listener
            if self._jobs and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._loop, name="fractal-slurm-watcher", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def forget(self, job_ids: Iterable[str]) -> None:
        """Stop watching `job_ids` (their listener needs no more news)."""
        with self._cond:
            for job_id in job_ids:
                self._jobs.pop(str(job_id), None)

    def watched(self) -> list[str]:
        """The job ids watched now."""
        with self._cond:
            return list(self._jobs)

    # -- the loop -------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._jobs:
                    self._thread = None
                    return
                wait = self._last_round + self.interval - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
            try:
                self.poll()
            except Exception:  # never let the watcher thread die
                logger.exception("SLURM watcher round failed")
                with self._cond:
                    self._last_round = time.monotonic()

    def poll(self) -> None:
        """One round now: squeue for all jobs, resolve those that left."""
        with self._round_lock:
            with self._cond:
                jobs = dict(self._jobs)
                self._last_round = time.monotonic()
            if not jobs:
                return
            self.stats.rounds += 1
            states = self._squeue(list(jobs))
            if states is None:
                self._on_failure(jobs)
                return
            self._failing_since = None
            live = {j: s for j, s in states.items() if s not in FINAL_STATES}
            left = [j for j in jobs if j not in live]
            finals = self._resolve(left) if left else {}
            by_listener: dict[int, tuple[JobListener, dict[str, str]]] = {}
            for job_id, state in live.items():
                listener = jobs.get(job_id)
                if listener is not None:
                    by_listener.setdefault(id(listener), (listener, {}))[1][job_id] = (
                        state
                    )
            for listener, polled in by_listener.values():
                _call(listener.jobs_polled, polled)
            for job_id, final in finals.items():
                with self._cond:
                    self._jobs.pop(job_id, None)
                _call(jobs[job_id].job_ended, final)

    def _run(self, argv: list[str]) -> CommandResult | None:
        try:
            return self.host.run(argv, env=self.env, timeout=self.command_timeout)
        except HostError as exc:
            logger.warning("SLURM command %s failed: %s", argv[0], exc)
            return None

    def _squeue(self, job_ids: list[str]) -> dict[str, str] | None:
        """States of the listed jobs still known to squeue; None if unknown."""
        states: dict[str, str] = {}
        for start in range(0, len(job_ids), SQUEUE_CHUNK):
            chunk = job_ids[start : start + SQUEUE_CHUNK]
            self.stats.squeue += 1
            result = self._run(["squeue", "-h", "-o", "%i %T", "-j", ",".join(chunk)])
            if result is None:
                return None
            if not result.ok:
                if invalid_job_id(result.stderr):
                    continue  # none of them is in the queue any more
                logger.warning(
                    "squeue failed (exit %s): %s",
                    result.returncode,
                    result.stderr.strip()[-500:],
                )
                return None
            states.update(parse_squeue(result.stdout))
        return states

    def _resolve(self, job_ids: list[str]) -> dict[str, JobFinal]:
        """Final states of jobs that left the queue (not yet final: left out)."""
        finals: dict[str, JobFinal] = {}
        pending = list(job_ids)
        if self._use_sacct:
            finals.update(self._sacct(pending))
            pending = [j for j in pending if j not in finals]
        not_final: set[str] = set()
        for job_id in pending:
            found = self._scontrol(job_id)
            if found is None:
                continue
            if found.state in FINAL_STATES:
                finals[job_id] = found
            else:  # still completing, or requeued: watch on
                not_final.add(job_id)
        pending = [j for j in pending if j not in finals and j not in not_final]
        if pending and self.jobcomp_file:
            finals.update(self._jobcomp(pending))
            pending = [j for j in pending if j not in finals]
        for job_id in pending:
            finals[job_id] = vanished(job_id)
        return finals

    def _sacct(self, job_ids: list[str]) -> dict[str, JobFinal]:
        self.stats.sacct += 1
        result = self._run(
            [
                "sacct",
                "-n",
                "-P",
                "-X",
                "-o",
                "JobID,State,ExitCode,Reason",
                "-j",
                ",".join(job_ids),
            ]
        )
        if result is None:
            return {}
        if not result.ok:
            if accounting_disabled(result.stderr + result.stdout):
                logger.info("sacct: accounting is disabled; using scontrol instead")
                self._use_sacct = False
            return {}
        return {
            j: f
            for j, f in parse_sacct(result.stdout).items()
            if f.state in FINAL_STATES
        }

    def _scontrol(self, job_id: str) -> JobFinal | None:
        self.stats.scontrol += 1
        result = self._run(["scontrol", "-o", "show", "job", job_id])
        if result is None or not result.ok:
            return None
        return parse_scontrol(result.stdout).get(job_id)

    def _jobcomp(self, job_ids: list[str]) -> dict[str, JobFinal]:
        assert self.jobcomp_file is not None
        self.stats.jobcomp += 1
        try:
            text = self.host.read_text(self.jobcomp_file)
        except (HostError, OSError) as exc:
            logger.warning("Cannot read jobcomp file %s: %s", self.jobcomp_file, exc)
            return {}
        return parse_jobcomp(text, job_ids)

    def _on_failure(self, jobs: Mapping[str, JobListener]) -> None:
        self.stats.failures += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            return
        if now - self._failing_since < self.give_up_after:
            return
        logger.error(
            "squeue has failed for %.0f s; giving up on %d jobs",
            now - self._failing_since,
            len(jobs),
        )
        self._failing_since = None
        for job_id, listener in jobs.items():
            with self._cond:
                self._jobs.pop(job_id, None)
            _call(listener.job_ended, vanished(job_id))


def _call(method: Any, arg: Any) -> None:
    try:
        method(arg)
    except Exception:
        logger.exception("SLURM job listener failed")


def host_key(host: Host, env: Mapping[str, str] | None) -> tuple[Any, ...]:
    """What makes two hosts the same cluster connection.

    A host may say it itself with a `watch_key` attribute (an SSH host: user,
    address, port); otherwise its class and its `user` attribute (a sudo
    host) count, plus the SLURM environment (e.g. `SLURM_CONF`).
    """
    own = getattr(host, "watch_key", None)
    base = (
        own
        if own is not None
        else (
            type(host).__module__,
            type(host).__qualname__,
            getattr(host, "user", None),
        )
    )
    return (base, tuple(sorted((env or {}).items())))


class WatcherRegistry:
    """Watchers by host identity (see `host_key`); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[tuple[Any, ...], SlurmWatcher] = {}

    def get(
        self,
        host: Host,
        *,
        env: Mapping[str, str] | None = None,
        interval: float = 2.0,
        jobcomp_file: str | None = None,
    ) -> SlurmWatcher:
        """The watcher of `host`, made on first use with these settings."""
        key = host_key(host, env)
        with self._lock:
            watcher = self._watchers.get(key)
            if watcher is None:
                watcher = SlurmWatcher(
                    host, env=env, interval=interval, jobcomp_file=jobcomp_file
                )
                self._watchers[key] = watcher
            elif jobcomp_file and not watcher.jobcomp_file:
                watcher.jobcomp_file = jobcomp_file
            return watcher


REGISTRY = WatcherRegistry()
"""The process-wide registry used when an executor is given no watcher."""


def watcher_for(
    host: Host,
    *,
    env: Mapping[str, str] | None = None,
    interval: float = 2.0,
    jobcomp_file: str | None = None,
) -> SlurmWatcher:
    """The shared watcher of `host` (one per cluster connection)."""
    return REGISTRY.get(host, env=env, interval=interval, jobcomp_file=jobcomp_file)
