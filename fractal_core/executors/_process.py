"""Starting one unit's process, and the context-manager behaviour of executors."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from typing import Self

from ._board import utc_now
from ._tree import SessionRef
from ._tree import start_time_of
from ._unit import ExecutableCheck
from ._unit import InvalidCommand
from ._unit import NotRegularFile
from ._unit import cancelled
from ._unit import failed
from ._unit import judge_exit
from ._unit import local_executable_check
from ._unit import split_command
from ._unit import timed_out
from ._unit import with_times
from .base import FailureKind
from .base import UnitResult
from .base import WorkUnit

logger = logging.getLogger(__name__)


def open_log(path: Path) -> BinaryIO:
    """Create/truncate a unit's log file; never follows a link or blocks on a FIFO."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(f"{path} is not a regular file.")
    return os.fdopen(fd, "wb")


class ProcessStarter:
    """Starts the processes of one batch of units.

    The command check (`validate_cmd`, `shlex.split`, `shutil.which`), the
    environment (`os.environ` as first seen, then `env`, then `unit.env`) and log
    folders are
    computed once per distinct value, not once per unit: for trivial tasks this
    work is a sizeable part of the per-unit cost. Safe to share between threads
    (a race only repeats a computation).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        executable_check: ExecutableCheck = local_executable_check,
    ) -> None:
        self._extra_env = dict(env or {})
        self._executable_check = executable_check
        self._commands: dict[str, list[str] | InvalidCommand] = {}
        self._base_env: dict[str, str] | None = None
        self._envs: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        self._folders: set[Path] = set()

    def argv(self, unit: WorkUnit) -> list[str]:
        """The unit's argument list; raises `InvalidCommand` (cached per command)."""
        prefix = self._commands.get(unit.command)
        if prefix is None:
            try:
                prefix = split_command(
                    unit.command, executable_check=self._executable_check
                )
            except InvalidCommand as exc:
                prefix = exc
            self._commands[unit.command] = prefix
        if isinstance(prefix, InvalidCommand):
            raise prefix
        return [
            *prefix,
            "--args-json",
            str(unit.args_file),
            "--out-json",
            str(unit.output_file),
        ]

    def env(self, unit: WorkUnit) -> dict[str, str] | None:
        """`os.environ` + executor env + `unit.env`; None (inherit) if both empty."""
        if not unit.env and not self._extra_env:
            return None
        key = tuple(sorted(unit.env.items()))
        env = self._envs.get(key)
        if env is None:
            if self._base_env is None:
                self._base_env = {**os.environ, **self._extra_env}
            env = {**self._base_env, **unit.env}
            self._envs[key] = env
        return env

    def start(self, unit: WorkUnit) -> subprocess.Popen[bytes] | UnitResult:
        """Start the unit's command (own process group, output to its log file).

        Returns the running process, or a failed result when the command is
        refused or cannot be started; in that case no log file is written.
        """
        try:
            argv = self.argv(unit)
        except InvalidCommand as exc:
            return failed(unit, FailureKind.INVALID_COMMAND, str(exc))
        folder = unit.log_file.parent
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)
        try:
            log = open_log(unit.log_file)
        except (OSError, NotRegularFile) as exc:
            return failed(
                unit,
                FailureKind.EXECUTOR_ERROR,
                f"Cannot write log file {unit.log_file}: {exc}",
            )
        with log:
            try:
                return subprocess.Popen(
                    argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.env(unit),
                    cwd=unit.workdir,
                    start_new_session=True,
                )
            except OSError as exc:
                return failed(
                    unit,
                    FailureKind.INVALID_COMMAND,
                    f"Cannot start command {unit.command!r}: {exc}",
                )


class RunningUnit:
    """One started unit process: stop it (cancel, time limit), wait, judge.

    `stop` may be called from any thread: SIGTERM to the unit's whole session,
    SIGKILL after `grace` seconds. `finish` (in the thread that started it) waits
    for the leader, kills whatever it left running in its session (a warning
    when the unit was not stopped: a task must not leave processes behind),
    and turns the exit into a `UnitResult` with start/end time and pid.
    """

    def __init__(
        self, unit: WorkUnit, proc: subprocess.Popen[bytes], grace: float
    ) -> None:
        self.unit = unit
        self.proc = proc
        self.grace = grace
        self.started_at = utc_now()
        self.session = SessionRef(proc.pid, start_time_of(proc.pid))
        self._lock = threading.Lock()
        self._reaped = threading.Event()
        self.stop_reason: FailureKind | None = None

    @property
    def native_id(self) -> str:
        return str(self.proc.pid)

    def stop(self, reason: FailureKind) -> None:
        """Terminate the unit's process tree (idempotent, returns at once)."""
        with self._lock:
            if self._reaped.is_set() or self.stop_reason is not None:
                return
            self.stop_reason = reason
            self.session.signal(signal.SIGTERM)
        threading.Thread(
            target=self._escalate, name="fractal-unit-kill", daemon=True
        ).start()

    def _escalate(self) -> None:
        if self._reaped.wait(self.grace):
            return  # the leader is gone: `finish` cleans up the rest
        with self._lock:
            if not self._reaped.is_set():
                self.session.signal(signal.SIGKILL)

    def finish(self) -> UnitResult:
        """Wait for the unit (enforcing its time limit) and return its result."""
        limit = self.unit.resources.time_limit_s
        timer = None
        if limit is not None:
            timer = threading.Timer(limit, self.stop, (FailureKind.TIME_LIMIT,))
            timer.daemon = True
            timer.start()
        try:
            returncode = self.proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._reaped.set()
        self._kill_leftovers()
        return with_times(
            self._judge(returncode), self.started_at, utc_now(), self.native_id
        )

    def _kill_leftovers(self) -> None:
        """Kill processes of the unit's session that outlived its leader."""
        stopped = self.stop_reason is not None
        if not stopped and not self.session.group_alive():
            return  # the common case costs one kill(…, 0)
        survivors = self.session.members()
        if not survivors:
            return
        if not stopped:
            logger.warning(
                "Unit %s left %d process(es) running after it ended (pids %s); "
                "killing them.",
                self.unit.id,
                len(survivors),
                survivors,
            )
        if not self.session.terminate(self.grace):
            logger.error(
                "Unit %s: processes %s survive SIGKILL.",
                self.unit.id,
                self.session.members(),
            )

    def _judge(self, returncode: int) -> UnitResult:
        if self.stop_reason is FailureKind.TIME_LIMIT:
            limit = self.unit.resources.time_limit_s or 0.0
            return timed_out(self.unit, limit, returncode)
        if self.stop_reason is FailureKind.CANCELLED and returncode != 0:
            return cancelled(self.unit, returncode=returncode)
        return judge_exit(self.unit, returncode)


class ExecutorContext:
    """`with executor:` — on exit, shut down; cancel if an exception escapes."""

    def shutdown(self, *, cancel: bool = False) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(cancel=exc_type is not None)
