"""`LocalExecutor.attach`: picking up units after the submitting process died."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors import ExecutorError
from fractal_core.executors import FailureKind
from fractal_core.executors import LocalExecutor
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit

from .conftest import gone
from .conftest import wait_for_file

UnitFactory = Callable[..., WorkUnit]
GUARD = 60.0

# Submits units described in a JSON file, writes the handle's snapshot once every
# unit runs, then waits to be killed.
SUBMITTER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from fractal_core.executors import LocalExecutor, WorkUnit
    spec = json.loads(Path(sys.argv[1]).read_text())
    units = [WorkUnit(id=u["id"], command=u["command"], args_file=Path(u["args"]),
                      output_file=Path(u["out"]), log_file=Path(u["log"]))
             for u in spec["units"]]
    executor = LocalExecutor()
    handle = executor.submit(units)
    while len(handle.native_ids()) < len(units):
        time.sleep(0.01)
    Path(sys.argv[2] + ".tmp").write_text(json.dumps(handle.snapshot()))
    Path(sys.argv[2] + ".tmp").rename(sys.argv[2])
    time.sleep(600)
    """
)


def _spec(unit: WorkUnit) -> dict[str, str]:
    return {
        "id": unit.id,
        "command": unit.command,
        "args": str(unit.args_file),
        "out": str(unit.output_file),
        "log": str(unit.log_file),
    }


def test_attach_after_the_submitting_process_was_killed(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    late = make_unit("late", {"pid_file": str(pid_file), "sleep": 2, "output": 5})
    silent = make_unit("silent", {"sleep": 1})  # writes no output at all
    spec_file, state_file = tmp_path / "spec.json", tmp_path / "state.json"
    spec_file.write_text(json.dumps({"units": [_spec(late), _spec(silent)]}))
    script = tmp_path / "submitter.py"
    script.write_text(SUBMITTER)
    submitter = subprocess.Popen(
        [sys.executable, str(script), str(spec_file), str(state_file)]
    )
    try:
        state = json.loads(wait_for_file(state_file))
    finally:
        submitter.send_signal(signal.SIGKILL)
        submitter.wait()
    unit_pid = int(wait_for_file(pid_file))
    with LocalExecutor() as executor:
        handle = executor.attach(state, poll_interval=0.05)
        assert handle.id == state["handle_id"]
        results = handle.results()
    assert results["late"].ok and results["late"].output == 5
    assert results["late"].native_id == str(unit_pid)
    # exit code unknown and no output: judged failed, saying why
    failure = results["silent"].failure
    assert failure is not None and failure.kind is FailureKind.EXECUTOR_ERROR
    assert "exit code is unknown" in failure.message


def _state(unit: WorkUnit, **extra: Any) -> dict[str, Any]:
    entry = {
        "id": unit.id,
        "command": unit.command,
        "args_file": str(unit.args_file),
        "output_file": str(unit.output_file),
        "log_file": str(unit.log_file),
        "state": "running",
        **extra,
    }
    return {"version": 1, "handle_id": "h1", "executor": "local", "units": [entry]}


def test_lost_process_without_output_fails(make_unit: UnitFactory) -> None:
    unit = make_unit("u0")
    # a pid that cannot be ours: pid 1 with another start time
    state = _state(unit, native_id="1", pid_start_time=-1)
    with LocalExecutor() as executor:
        result = executor.attach(state).results()["u0"]
    assert result.failure is not None
    assert result.failure.kind is FailureKind.EXECUTOR_ERROR
    assert "process lost after a restart" in result.failure.message
    assert gone(1, timeout=0.1) is False  # and nothing was done to pid 1


def test_lost_process_with_output_is_ok(make_unit: UnitFactory) -> None:
    unit = make_unit("u0")
    unit.output_file.write_text('{"done": true}')
    with LocalExecutor() as executor:
        result = executor.attach(_state(unit)).results()["u0"]
    assert result.ok and result.output == {"done": True}


def test_cancel_an_attached_running_unit(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    orphan_file = tmp_path / "orphan"
    unit = make_unit(
        "u0",
        {"pid_file": str(pid_file), "orphan_pid_file": str(orphan_file), "sleep": 600},
    )
    with LocalExecutor(cancel_grace=0.3) as first:
        handle = first.submit([unit])
        pid = int(wait_for_file(pid_file))
        orphan = int(wait_for_file(orphan_file))
        state = json.loads(json.dumps(handle.snapshot()))
        with LocalExecutor(cancel_grace=0.3) as second:
            attached = second.attach(state, poll_interval=0.05)
            assert attached.states()["u0"].value == "running"
            attached.cancel()
            assert attached.wait(timeout=GUARD)
        assert attached.results()["u0"].status is UnitStatus.CANCELLED
        assert handle.wait(timeout=GUARD)
    assert gone(pid) and gone(orphan)
    assert os.path.exists(unit.log_file)


@pytest.mark.parametrize(
    "state",
    [
        None,
        {"version": 99, "executor": "local", "handle_id": "x", "units": []},
        {"version": 1, "executor": "local", "handle_id": 3, "units": []},
        {"version": 1, "executor": "local", "handle_id": "x", "units": [{"id": 1}]},
    ],
)
def test_bad_states_are_refused(state: Any) -> None:
    with LocalExecutor() as executor, pytest.raises(ExecutorError, match="attach"):
        executor.attach(state)
