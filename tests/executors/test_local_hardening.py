"""Hostile and buggy tasks on the LocalExecutor: orphans, time limits, odd outputs,
paths with spaces, timestamps. Every test here failed before the hardening."""

from __future__ import annotations

import logging
import os
import shlex
import stat
import sys
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest

from fractal_core.executors import FailureKind
from fractal_core.executors import InlineExecutor
from fractal_core.executors import LocalExecutor
from fractal_core.executors import UnitResult
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit
from fractal_core.executors._unit import InvalidCommand
from fractal_core.executors._unit import InvalidOutput
from fractal_core.executors._unit import read_log_excerpt
from fractal_core.executors._unit import read_output
from fractal_core.executors._unit import split_command

from .conftest import TASK_SCRIPT
from .conftest import gone
from .conftest import session_left
from .conftest import wait_for_file

UnitFactory = Callable[..., WorkUnit]


def _run_one(unit: WorkUnit, **kwargs: object) -> UnitResult:
    with LocalExecutor(**kwargs) as executor:  # type: ignore[arg-type]
        handle = executor.submit([unit])
        assert handle.wait(timeout=60), "unit hung"
        return handle.results()[unit.id]


def test_cancel_kills_a_child_that_outlives_its_leader(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    orphan_file = tmp_path / "orphan"
    pid_file = tmp_path / "pid"
    unit = make_unit(
        "u0",
        {"orphan_pid_file": str(orphan_file), "pid_file": str(pid_file), "sleep": 600},
    )
    with LocalExecutor(cancel_grace=0.5) as executor:
        handle = executor.submit([unit])
        orphan = int(wait_for_file(orphan_file))
        leader = int(wait_for_file(pid_file))
        handle.cancel()
        assert handle.wait(timeout=60)
    assert handle.results()["u0"].status is UnitStatus.CANCELLED
    assert gone(leader)
    assert gone(orphan), "a child ignoring SIGTERM survived its leader's cancel"


def test_leftover_child_of_a_finished_unit_is_killed(
    make_unit: UnitFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    orphan_file = tmp_path / "orphan"
    unit = make_unit("leaky", {"orphan_pid_file": str(orphan_file), "output": 7})
    with caplog.at_level(logging.WARNING, logger="fractal_core.executors"):
        result = _run_one(unit, cancel_grace=0.3)
    assert result.ok and result.output == 7
    assert gone(int(orphan_file.read_text()))
    assert any(
        "leaky" in r.getMessage() and "left" in r.getMessage() for r in caplog.records
    )


def test_time_limit_kills_the_tree(make_unit: UnitFactory, tmp_path: Path) -> None:
    orphan_file = tmp_path / "orphan"
    unit = make_unit(
        "slow",
        {"orphan_pid_file": str(orphan_file), "ignore_term": True, "sleep": 600},
        time_limit=0.5,
    )
    result = _run_one(unit, cancel_grace=0.3)
    assert result.status is UnitStatus.FAILED
    assert result.failure is not None
    assert result.failure.kind is FailureKind.TIME_LIMIT
    assert "time limit of 0.5 seconds" in result.failure.message
    assert str(unit.log_file) in result.failure.message
    # the limit may strike before the child started: check the whole session
    assert session_left(result.native_id) == []
    if orphan_file.exists():
        assert gone(int(orphan_file.read_text()))


def test_time_limit_not_reached(make_unit: UnitFactory) -> None:
    result = _run_one(make_unit("quick", {"output": 1}, time_limit=60))
    assert result.ok and result.output == 1


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        ({"fifo_output": True}, "FIFO"),
        ({"symlink_output": "/dev/zero"}, "symbolic link"),
        ({"dir_output": True}, "directory"),
    ],
)
def test_output_that_is_not_a_regular_file_is_refused(
    make_unit: UnitFactory, args: dict[str, object], kind: str
) -> None:
    unit = make_unit("u0", args)
    result = _run_one(unit)
    assert result.status is UnitStatus.FAILED
    assert result.failure is not None
    assert result.failure.kind is FailureKind.INVALID_OUTPUT
    assert kind in result.failure.message
    assert str(unit.output_file) in result.failure.message


def test_read_output_refuses_devices_and_links(tmp_path: Path) -> None:
    with pytest.raises(InvalidOutput, match="character device"):
        read_output(Path("/dev/null"))
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with pytest.raises(InvalidOutput, match="symbolic link"):
        read_output(link)


def test_read_output_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text('{"a": "' + "x" * 200 + '"}')
    with pytest.raises(InvalidOutput, match="limit of 100 bytes"):
        read_output(path, max_bytes=100)
    assert read_output(path, max_bytes=1000) == {"a": "x" * 200}


def test_fifo_log_reads_as_empty(tmp_path: Path) -> None:
    fifo = tmp_path / "log.txt"
    os.mkfifo(fifo)
    excerpt = read_log_excerpt(fifo)  # must not block
    assert excerpt.text == "" and excerpt.length == 0


def test_huge_log_is_an_excerpt(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        for _ in range(40):
            f.write("é" * 100_000)
        f.write("THE END")
    excerpt = read_log_excerpt(log)
    assert excerpt.length == 4_000_007
    assert not excerpt.complete
    assert excerpt.tail.endswith("THE END") and len(excerpt.tail) == 20_000


def test_cancel_works_while_output_is_a_fifo(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    units = [make_unit("fifo", {"fifo_output": True})] + [
        make_unit(f"slow{i}", {"sleep": 600}) for i in range(2)
    ]
    with LocalExecutor(cancel_grace=0.3) as executor:
        handle = executor.submit(units)
        first = next(handle.as_completed(timeout=60))
        assert first.unit_id == "fifo"
        handle.cancel()
        assert handle.wait(timeout=60)
    assert handle.results()["slow0"].status is UnitStatus.CANCELLED


def _tasks_in(folder: Path, marker: str) -> Path:
    """A python script printing `marker` into its output, under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "task.py"
    script.write_text(TASK_SCRIPT)
    python = folder / "python"
    python.write_text(
        f'#!/bin/sh\necho {marker} >&2\nexec {shlex.quote(sys.executable)} "$@"\n'
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return python


def test_quoted_command_with_spaces_runs_the_right_program(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    base = tmp_path / "my tasks"
    right = _tasks_in(base / "venv" / "bin", "RIGHT-PROGRAM")
    # a decoy where the unquoted command's first word would point
    decoy = tmp_path / "my"
    decoy.write_text("#!/bin/sh\necho DECOY >&2\nexit 42\n")
    decoy.chmod(0o755)
    command = shlex.join([str(right), str(base / "venv" / "bin" / "task.py")])
    assert split_command(command)[0] == str(right)
    unit = make_unit("u0", {"output": "ok"}, command=command)
    result = _run_one(unit)
    assert result.ok and result.output == "ok"
    log = unit.log_file.read_text()
    assert "RIGHT-PROGRAM" in log and "DECOY" not in log
    # the same command unquoted runs the decoy: the reason commands are quoted
    unquoted = make_unit("u1", command=f"{right} {base}/venv/bin/task.py")
    bad = _run_one(unquoted)
    assert bad.failure is not None and bad.failure.returncode == 42


def test_executable_check_is_injectable(make_unit: UnitFactory) -> None:
    asked: list[str] = []

    def remote_check(program: str) -> bool:
        asked.append(program)
        return program == "/remote/bin/task"

    assert split_command("/remote/bin/task --x", executable_check=remote_check)
    with pytest.raises(InvalidCommand, match="is not valid"):
        split_command("true", executable_check=remote_check)
    unit = make_unit("u0", command="true")
    for executor in (
        LocalExecutor(executable_check=remote_check),
        InlineExecutor(executable_check=remote_check),
    ):
        with executor:
            result = executor.submit([unit]).results()["u0"]
        assert result.failure is not None
        assert result.failure.kind is FailureKind.INVALID_COMMAND
    assert "true" in asked


def test_times_and_native_id(make_unit: UnitFactory) -> None:
    units = [make_unit("ok", {"sleep": 0.1}), make_unit("bad", {"exit": 2})]
    with LocalExecutor() as executor:
        handle = executor.submit(units)
        results = handle.results()
        native = handle.native_ids()
    for result in results.values():
        assert result.started_at is not None and result.ended_at is not None
        assert result.started_at.tzinfo is UTC
        assert result.started_at <= result.ended_at
        assert result.native_id is not None and result.native_id.isdigit()
        assert native[result.unit_id] == result.native_id
    assert len(set(native.values())) == 2


def test_cancel_from_another_thread_during_as_completed(
    make_unit: UnitFactory,
) -> None:
    units = [make_unit(f"u{i}", {"sleep": 600}) for i in range(3)]
    with LocalExecutor(cancel_grace=0.3) as executor:
        handle = executor.submit(units)
        threading.Timer(0.2, handle.cancel).start()
        seen = [r.unit_id for r in handle.as_completed(timeout=60)]
    assert sorted(seen) == ["u0", "u1", "u2"]
    assert all(r.status is UnitStatus.CANCELLED for r in handle.results().values())


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_log_path_that_is_not_a_regular_file_fails_the_unit(
    make_unit: UnitFactory, tmp_path: Path, kind: str
) -> None:
    unit = make_unit("u0")
    unit.log_file.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(unit.log_file)
    else:
        unit.log_file.symlink_to(tmp_path / "elsewhere.txt")
    result = _run_one(unit)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.EXECUTOR_ERROR
    assert str(unit.log_file) in result.failure.message
    assert not (tmp_path / "elsewhere.txt").exists()
