"""Starting one unit's process, and the context-manager behaviour of executors."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from ._unit import InvalidCommand
from ._unit import failed
from ._unit import split_command
from .base import FailureKind
from .base import UnitResult
from .base import WorkUnit


class ProcessStarter:
    """Starts the processes of one batch of units.

    The command check (`validate_cmd`, `shlex.split`, `shutil.which`), the
    environment (`os.environ` as first seen, then `env`, then `unit.env`) and log
    folders are
    computed once per distinct value, not once per unit: for trivial tasks this
    work is a sizeable part of the per-unit cost. Safe to share between threads
    (a race only repeats a computation).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._extra_env = dict(env or {})
        self._commands: dict[str, list[str] | InvalidCommand] = {}
        self._base_env: dict[str, str] | None = None
        self._envs: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        self._folders: set[Path] = set()

    def argv(self, unit: WorkUnit) -> list[str]:
        """The unit's argument list; raises `InvalidCommand` (cached per command)."""
        prefix = self._commands.get(unit.command)
        if prefix is None:
            try:
                prefix = split_command(unit.command)
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
        with open(unit.log_file, "wb") as log:
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
