"""LocalExecutor with real subprocesses: results, failures, limits, cancellation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fractal_core.executors import Executor
from fractal_core.executors import ExecutorError
from fractal_core.executors import FailureKind
from fractal_core.executors import Handle
from fractal_core.executors import InlineExecutor
from fractal_core.executors import LocalExecutor
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit
from fractal_core.executors._unit import LOG_EXCERPT_CHARS
from fractal_core.executors._unit import MAX_LEN_STDERR

UnitFactory = Callable[..., WorkUnit]


def _run_one(unit, **kwargs):  # type: ignore[no-untyped-def]
    with LocalExecutor(**kwargs) as executor:
        return executor.submit([unit]).results()[unit.id]


def test_success_output_and_log(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", {"output": {"image_list_updates": [{"zarr_url": "/a"}]}})
    result = _run_one(unit)
    assert result.status is UnitStatus.OK and result.ok
    assert result.output == {"image_list_updates": [{"zarr_url": "/a"}]}
    log = unit.log_file.read_text()
    assert "hello from stdout" in log and "hello from stderr" in log


def test_protocols_are_satisfied(make_unit: UnitFactory) -> None:
    with LocalExecutor(max_workers=1) as executor:
        assert isinstance(executor, Executor)
        handle = executor.submit([make_unit("u0")])
        assert isinstance(handle, Handle)
        assert handle.wait(timeout=60)
        assert handle.done()


def test_missing_and_empty_output_mean_none(make_unit: UnitFactory) -> None:
    missing = make_unit("missing")
    empty = make_unit("empty", {"raw_output": "  \n"})
    null = make_unit("null", {"raw_output": "null"})
    with LocalExecutor() as executor:
        results = executor.submit([missing, empty, null]).results()
    assert all(r.status is UnitStatus.OK for r in results.values())
    assert [results[k].output for k in ("missing", "empty", "null")] == [None] * 3
    assert not missing.output_file.exists()


def test_output_file_is_not_precreated(make_unit: UnitFactory) -> None:
    # the script exits with an error when --out-json exists before it starts
    result = _run_one(make_unit("u0", {"output": 1}))
    assert result.ok and result.output == 1


def test_nonzero_exit(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", {"exit": 3, "output": {"ignored": True}})
    result = _run_one(unit)
    assert result.status is UnitStatus.FAILED
    assert result.failure is not None
    assert result.failure.kind is FailureKind.NONZERO_EXIT
    assert result.failure.returncode == 3
    assert result.failure.message.startswith("Task failed with returncode=3.")
    assert "hello from stderr" in result.failure.message
    assert "hello from stderr" in result.failure.log
    assert result.failure.log_file == unit.log_file
    assert result.output is None


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("false", "Task failed with returncode=1."),
        ("sleep --fake-arg", "unrecognized option"),
    ],
)
def test_system_commands_failing(
    make_unit: UnitFactory, command: str, expected: str
) -> None:
    result = _run_one(make_unit("u0", command=command))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.NONZERO_EXIT
    assert expected in result.failure.message


def test_killed_by_signal_is_a_nonzero_exit(make_unit: UnitFactory) -> None:
    result = _run_one(make_unit("u0", {"self_kill": True}))
    assert result.failure is not None
    assert result.failure.kind is FailureKind.NONZERO_EXIT
    assert result.failure.returncode == -9


def test_long_log_replaced_by_placeholder(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", {"exit": 1, "log_size": MAX_LEN_STDERR + 10})
    result = _run_one(unit)
    assert result.failure is not None
    full = unit.log_file.read_text()
    assert len(full) > MAX_LEN_STDERR
    assert f"Cannot display stderr of length {len(full)}" in result.failure.message
    assert str(unit.log_file) in result.failure.message
    assert "xxxxxxxxxx" not in result.failure.message
    assert len(result.failure.log) == LOG_EXCERPT_CHARS  # an excerpt, not megabytes
    assert result.failure.log.endswith("END-OF-LOG")


def test_invalid_output_json(make_unit: UnitFactory) -> None:
    unit = make_unit("u0", {"raw_output": "{not json"})
    result = _run_one(unit)
    assert result.status is UnitStatus.FAILED
    assert result.failure is not None
    assert result.failure.kind is FailureKind.INVALID_OUTPUT
    assert str(unit.output_file) in result.failure.message
    assert result.failure.returncode == 0


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("echo; echo", "Invalid command"),
        ("echo $HOME", "Invalid command"),
        ("ls | cat", "Invalid command"),
        ("xxxx-not-a-command something", "is not valid"),
        ("", "empty"),
        ("'unbalanced", "cannot split"),
    ],
)
def test_refused_commands(
    make_unit: UnitFactory, tmp_path: Path, command: str, expected: str
) -> None:
    unit = make_unit("u0", command=command)
    result = _run_one(unit)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.INVALID_COMMAND
    assert expected in result.failure.message
    assert not unit.log_file.exists()  # nothing was started


def test_env_and_workdir(make_unit: UnitFactory, tmp_path: Path) -> None:
    workdir = tmp_path / "wd"
    workdir.mkdir()
    unit = make_unit(
        "u0",
        {"env_key": "FRACTAL_TEST_VALUE"},
        env={"FRACTAL_TEST_VALUE": "abc 123"},
        workdir=workdir,
    )
    result = _run_one(unit)
    assert result.output == {
        "value": "abc 123",
        "has_path": True,
        "cwd": str(workdir),
    }
    assert "FRACTAL_TEST_VALUE" not in os.environ


@pytest.mark.parametrize("executor_class", [LocalExecutor, InlineExecutor])
def test_executor_env_under_unit_env(
    make_unit: UnitFactory, executor_class: type[LocalExecutor | InlineExecutor]
) -> None:
    units = [
        make_unit(name, {"env_key": key}, env={"LAYER_B": "unit"})
        for name, key in (("a", "LAYER_A"), ("b", "LAYER_B"))
    ]
    env = {"LAYER_A": "executor", "LAYER_B": "executor"}
    with executor_class(env=env) as executor:
        results = executor.submit(units).results()
    assert results["a"].output["value"] == "executor"
    assert results["b"].output["value"] == "unit"


def test_some_units_fail_others_finish(make_unit: UnitFactory) -> None:
    units = [make_unit(f"u{i}", {"exit": i % 2, "output": i}) for i in range(6)]
    with LocalExecutor(max_workers=3) as executor:
        results = executor.submit(units).results()
    assert list(results) == [u.id for u in units]
    assert [r.ok for r in results.values()] == [True, False] * 3
    assert [r.output for r in results.values()] == [0, None, 2, None, 4, None]


def _intervals(stamps: Path, names: list[str]) -> list[tuple[float, float]]:
    return [
        (
            float((stamps / f"{n}.start").read_text()),
            float((stamps / f"{n}.end").read_text()),
        )
        for n in names
    ]


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda e: (e[0], e[1]),  # an end before a start at the same instant
    )
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


@pytest.mark.parametrize(("limit", "max_workers"), [(1, 4), (2, 4), (None, 3)])
def test_parallel_limit_honoured(
    make_unit: UnitFactory, tmp_path: Path, limit: int | None, max_workers: int
) -> None:
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    names = [f"u{i}" for i in range(7)]
    units = [
        make_unit(n, {"stamps": str(stamps), "sleep": 0.2}, parallel=limit)
        for n in names
    ]
    with LocalExecutor(max_workers=max_workers) as executor:
        results = executor.submit(units).results()
    assert all(r.ok for r in results.values())
    # stamps are taken inside each process, so they under-estimate real overlap
    assert _max_overlap(_intervals(stamps, names)) <= min(limit or 7, max_workers)


def test_chunk_barrier_matches_reference(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    names = [f"u{i}" for i in range(7)]
    units = [
        make_unit(n, {"stamps": str(stamps), "sleep": 0.05 * (i % 3)}, parallel=3)
        for i, n in enumerate(names)
    ]
    with LocalExecutor(max_workers=8, chunk_barrier=True) as executor:
        assert all(r.ok for r in executor.submit(units).results().values())
    spans = _intervals(stamps, names)
    chunks = [spans[0:3], spans[3:6], spans[6:7]]
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert max(end for _, end in before) <= min(start for start, _ in after)


def _wait_for_file(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def _gone(pid: int, timeout: float = 30.0) -> bool:
    """True once `pid` no longer runs (absent, or a zombie nobody reaped yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_cancel_terminates_running_and_skips_queued(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    child_file = tmp_path / "child"
    running = make_unit(
        "running",
        {"pid_file": str(pid_file), "child_pid_file": str(child_file), "sleep": 600},
        parallel=1,
    )
    queued = make_unit("queued", parallel=1)
    with LocalExecutor() as executor:
        handle = executor.submit([running, queued])
        pid = int(_wait_for_file(pid_file))
        child_pid = int(_wait_for_file(child_file))
        assert not handle.done()
        handle.cancel()
        assert handle.wait(timeout=60)
        results = handle.results()
    assert results["running"].status is UnitStatus.CANCELLED
    assert results["running"].failure is not None
    assert results["running"].failure.kind is FailureKind.CANCELLED
    assert results["running"].failure.returncode == -15
    assert results["queued"].status is UnitStatus.CANCELLED
    assert "before it started" in results["queued"].failure.message  # type: ignore[union-attr]
    assert not queued.log_file.exists()
    assert _gone(pid)
    assert _gone(child_pid)  # the whole process group was signalled


def test_cancel_kills_after_grace(make_unit: UnitFactory, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    unit = make_unit(
        "stubborn", {"pid_file": str(pid_file), "ignore_term": True, "sleep": 600}
    )
    with LocalExecutor(cancel_grace=0.3) as executor:
        handle = executor.submit([unit])
        pid = int(_wait_for_file(pid_file))
        handle.cancel()
        handle.cancel()  # idempotent
        assert handle.wait(timeout=60)
    result = handle.results()["stubborn"]
    assert result.status is UnitStatus.CANCELLED
    assert result.failure is not None and result.failure.returncode == -9
    assert _gone(pid)


def test_context_manager_cancels_on_exception(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    unit = make_unit("u0", {"pid_file": str(pid_file), "sleep": 600})
    with pytest.raises(RuntimeError, match="boom"), LocalExecutor() as executor:
        handle = executor.submit([unit])
        _wait_for_file(pid_file)
        raise RuntimeError("boom")
    assert handle.done()
    assert handle.results()["u0"].status is UnitStatus.CANCELLED


def test_wait_timeout_returns_false_while_running(
    make_unit: UnitFactory, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    with LocalExecutor() as executor:
        handle = executor.submit(
            [make_unit("u0", {"pid_file": str(pid_file), "sleep": 600})]
        )
        _wait_for_file(pid_file)
        assert handle.wait(timeout=0.01) is False
        executor.shutdown(cancel=True)
    assert handle.done()


def test_empty_submission_is_done(make_unit: UnitFactory) -> None:
    with LocalExecutor() as executor:
        handle = executor.submit([])
        assert handle.done() and handle.results() == {}


def test_submission_errors(make_unit: UnitFactory) -> None:
    executor = LocalExecutor()
    with pytest.raises(ExecutorError, match="Duplicate unit id='a'"):
        executor.submit([make_unit("a"), make_unit("a")])
    with pytest.raises(ExecutorError, match="parallel_tasks_per_job=0"):
        executor.submit([make_unit("b", parallel=0)])
    executor.shutdown()
    with pytest.raises(ExecutorError, match="shut down"):
        executor.submit([make_unit("c")])


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_max_workers_validated(bad: object) -> None:
    with pytest.raises(ExecutorError, match="max_workers="):
        LocalExecutor(max_workers=bad)  # type: ignore[arg-type]


def test_many_handles_share_the_pool(make_unit: UnitFactory) -> None:
    with LocalExecutor(max_workers=2) as executor:
        handles = [
            executor.submit(
                [make_unit(f"h{i}-u{j}", {"output": [i, j]}) for j in range(3)]
            )
            for i in range(3)
        ]
        outputs = [[r.output for r in h.results().values()] for h in handles]
    assert outputs == [[[i, j] for j in range(3)] for i in range(3)]


@pytest.mark.parametrize("barrier", [False, True])
def test_cancel_midway_leaves_no_process(
    make_unit: UnitFactory, tmp_path: Path, barrier: bool
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    units = [
        make_unit(
            f"u{i:02d}",
            {"pid_file": str(pids / f"u{i:02d}"), "sleep": 0.05 if i < 4 else 600},
            parallel=3,
        )
        for i in range(20)
    ]
    with LocalExecutor(max_workers=4, chunk_barrier=barrier) as executor:
        handle = executor.submit(units)
        _wait_for_file(pids / "u04")  # a long unit has started
        handle.cancel()
        assert handle.wait(timeout=60)
    results = handle.results()
    assert len(results) == 20
    statuses = {r.status for r in results.values()}
    assert statuses <= {UnitStatus.OK, UnitStatus.CANCELLED}
    assert results["u00"].status is UnitStatus.OK
    assert results["u04"].status is UnitStatus.CANCELLED
    assert results["u19"].status is UnitStatus.CANCELLED
    for pid_file in pids.iterdir():
        if pid_file.suffix != ".tmp":
            assert _gone(int(pid_file.read_text()))
