"""`InlineExecutor`: a synchronous executor for tests, yours and ours.

`submit` runs every unit one after the other before returning, so the handle it
returns is already done. A unit whose `command` string is registered in
`tasks` runs as a Python call in this process, honouring the same file contract
as a real task (as `fractal_task_tools.task_wrapper.run_fractal_task` does):

- the arguments are read from `unit.args_file` and passed as keyword arguments;
- the return value is written as JSON to `unit.output_file` (`None` → `null`);
- the output file must not exist beforehand (real tasks exit with an error then);
- an exception is a failure with returncode 1; its traceback goes to the log file.

Any other command runs as a real subprocess, synchronously, with the same checks
as `LocalExecutor` (environment: `os.environ` + `env` + `unit.env`), unless
`allow_subprocess=False` (then it fails as INVALID_COMMAND). Python callables
run in this process and see its environment unchanged. Example::

    def my_task(*, zarr_url: str) -> dict:
        return {"image_list_updates": [{"zarr_url": zarr_url}]}

    executor = InlineExecutor({"my-task": my_task})
    results = executor.submit(units).results()
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._board import ResultBoard
from ._board import executor_errors
from ._board import utc_now
from ._limits import check_unique_ids
from ._limits import submission_limit
from ._process import ExecutorContext
from ._process import ProcessStarter
from ._process import RunningUnit
from ._unit import ExecutableCheck
from ._unit import failed
from ._unit import judge_exit
from ._unit import local_executable_check
from ._unit import with_times
from .base import ExecutorCapabilities
from .base import ExecutorError
from .base import FailureKind
from .base import Handle
from .base import UnitResult
from .base import WorkUnit

logger = logging.getLogger(__name__)

TaskFunction = Callable[..., Any]


class CompletedHandle(ResultBoard):
    """A handle whose results are all known already (see `base.Handle`).

    Its snapshot records every result, but an inline submission cannot be
    attached to: its units ran inside `submit`.
    """

    executor_kind = "inline"

    def __init__(
        self,
        results: Mapping[str, UnitResult],
        units: Sequence[WorkUnit] | None = None,
    ) -> None:
        if units is None:  # results alone: placeholder units carry the ids
            units = [WorkUnit(uid, "", Path(), Path(), Path()) for uid in results]
        super().__init__(units)
        with self._cond:
            for index, unit in enumerate(self._units):
                result = results[unit.id]
                if result.native_id is not None:
                    self._native[index] = result.native_id
                self._set_done(index, result)

    def cancel(self) -> None:
        """Nothing to cancel: every unit already ran."""


class InlineExecutor(ExecutorContext):
    """Runs units synchronously: registered Python callables, else subprocesses."""

    def __init__(
        self,
        tasks: Mapping[str, TaskFunction] | None = None,
        *,
        allow_subprocess: bool = True,
        env: Mapping[str, str] | None = None,
        cancel_grace: float = 5.0,
        executable_check: ExecutableCheck = local_executable_check,
    ) -> None:
        self.tasks: dict[str, TaskFunction] = dict(tasks or {})
        self.allow_subprocess = allow_subprocess
        self.env = dict(env or {})
        self.cancel_grace = cancel_grace
        self.executable_check = executable_check
        self._closed = False
        self._last: CompletedHandle | None = None

    capabilities = ExecutorCapabilities(
        cancel_running=False, time_limit=True, attach=False, concurrent=False
    )

    @property
    def executor_error_log(self) -> str | None:
        """Executor-side errors of the last submission, or None."""
        return executor_errors(self._last)

    def attach(self, state: Mapping[str, Any]) -> Handle:
        """Always refused: inline units ran inside `submit`; nothing is left."""
        raise ExecutorError(
            "InlineExecutor cannot reattach to a submission: its units ran inside "
            "submit(); submit them again instead."
        )

    def register(self, command: str, function: TaskFunction) -> None:
        """Make units with this exact `command` string call `function`."""
        self.tasks[command] = function

    def submit(self, units: Sequence[WorkUnit]) -> CompletedHandle:
        """Run every unit now, in order; return a handle that is already done."""
        if self._closed:
            raise ExecutorError("InlineExecutor is shut down: submission refused.")
        check_unique_ids(units)
        submission_limit(units)  # same validation as the local executor
        results = {unit.id: self._run(unit) for unit in units}
        self._last = CompletedHandle(results, units)
        return self._last

    def _run(self, unit: WorkUnit) -> UnitResult:
        function = self.tasks.get(unit.command)
        if function is not None:
            return self._call(unit, function)
        if not self.allow_subprocess:
            return failed(
                unit,
                FailureKind.INVALID_COMMAND,
                f"No Python task registered for command={unit.command!r} and "
                "subprocesses are disabled.",
            )
        return self._subprocess(unit)

    def _call(self, unit: WorkUnit, function: TaskFunction) -> UnitResult:
        started_at = utc_now()
        result = self._call_function(unit, function)
        return with_times(result, started_at, utc_now(), None)

    def _call_function(self, unit: WorkUnit, function: TaskFunction) -> UnitResult:
        unit.log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            if unit.output_file.exists():
                raise FileExistsError(
                    f"Output file {unit.output_file} already exists; tasks refuse "
                    "to overwrite it."
                )
            args = json.loads(unit.args_file.read_text())
            value = function(**args)
            unit.output_file.write_text(json.dumps(value, indent=2))
        except Exception:
            unit.log_file.write_text(traceback.format_exc())
            return judge_exit(unit, 1)
        unit.log_file.write_text("")
        return judge_exit(unit, 0)

    def _subprocess(self, unit: WorkUnit) -> UnitResult:
        starter = ProcessStarter(self.env, executable_check=self.executable_check)
        proc = starter.start(unit)
        if isinstance(proc, UnitResult):
            return proc
        return RunningUnit(unit, proc, self.cancel_grace).finish()

    def shutdown(self, *, cancel: bool = False) -> None:
        """Refuse further submissions (nothing runs in the background)."""
        self._closed = True
