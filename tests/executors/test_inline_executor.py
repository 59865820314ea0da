"""InlineExecutor: registered Python callables and synchronous subprocesses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fractal_core.executors import Executor
from fractal_core.executors import ExecutorError
from fractal_core.executors import FailureKind
from fractal_core.executors import InlineExecutor
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit

UnitFactory = Callable[..., WorkUnit]


def _fake_task(*, name: str, zarr_url: str = "/z", fail: bool = False) -> Any:
    if fail:
        raise RuntimeError(f"task {name} failed on purpose")
    return {"image_list_updates": [{"zarr_url": zarr_url}]}


def _returns_none(**kwargs: Any) -> None:
    return None


def test_registered_callable_follows_the_file_contract(
    make_unit: UnitFactory,
) -> None:
    unit = make_unit("u0", {"zarr_url": "/data/a"}, command="fake-task")
    executor = InlineExecutor({"fake-task": _fake_task})
    assert isinstance(executor, Executor)
    handle = executor.submit([unit])
    assert handle.done() and handle.wait(0)
    result = handle.results()["u0"]
    assert result.ok
    assert result.output == {"image_list_updates": [{"zarr_url": "/data/a"}]}
    assert json.loads(unit.output_file.read_text()) == result.output


def test_none_is_written_as_null(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", command="none-task")
    executor = InlineExecutor()
    executor.register("none-task", _returns_none)
    result = executor.submit([unit]).results()["u0"]
    assert result.ok and result.output is None
    assert unit.output_file.read_text() == "null"


def test_exception_is_a_failure_with_traceback(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", {"fail": True}, command="fake-task")
    result = InlineExecutor({"fake-task": _fake_task}).submit([unit]).results()["u0"]
    assert result.status is UnitStatus.FAILED
    assert result.failure is not None
    assert result.failure.kind is FailureKind.NONZERO_EXIT
    assert result.failure.returncode == 1
    assert "task u0 failed on purpose" in result.failure.message
    assert "Traceback" in unit.log_file.read_text()


def test_existing_output_file_is_refused(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", command="fake-task")
    unit.output_file.write_text("{}")
    result = InlineExecutor({"fake-task": _fake_task}).submit([unit]).results()["u0"]
    assert result.failure is not None
    assert "already exists" in result.failure.message


def test_unregistered_command_runs_as_subprocess(make_unit: UnitFactory) -> None:
    ok = make_unit("ok", {"output": [1, 2]})
    bad = make_unit("bad", {"raw_output": "]["})
    env = make_unit("env", {"env_key": "INLINE_VAR"}, env={"INLINE_VAR": "v"})
    with InlineExecutor() as executor:
        results = executor.submit([ok, bad, env]).results()
    assert results["ok"].output == [1, 2]
    assert results["bad"].failure is not None
    assert results["bad"].failure.kind is FailureKind.INVALID_OUTPUT
    assert results["env"].output["value"] == "v"


def test_subprocess_can_be_disabled(make_unit: UnitFactory) -> None:
    unit = make_unit("u0")
    executor = InlineExecutor(allow_subprocess=False)
    result = executor.submit([unit]).results()["u0"]
    assert result.failure is not None
    assert result.failure.kind is FailureKind.INVALID_COMMAND
    assert not unit.log_file.exists()


def test_forbidden_command_refused(make_unit: UnitFactory) -> None:
    result = InlineExecutor().submit([make_unit("u0", command="echo;x")]).results()
    assert result["u0"].failure is not None
    assert result["u0"].failure.kind is FailureKind.INVALID_COMMAND


def test_shutdown_refuses_submissions(make_unit: UnitFactory) -> None:
    executor = InlineExecutor()
    executor.shutdown()
    with pytest.raises(ExecutorError, match="shut down"):
        executor.submit([make_unit("u0")])
