"""The executor contract: every executor must pass this file unchanged.

How to plug in a new executor (SLURM over SSH, sudo, ...): add one entry to
`FACTORIES` below, a function returning a fresh executor whose units run the
real task script of `conftest.py` (for a remote executor, in a test cluster
that sees the same folders). Nothing else changes. Cases that need something an
executor declares it cannot do (`executor.capabilities`, see
`ExecutorCapabilities`) are skipped with the flag named in the reason, never
silently; every other case must pass.

All waits have generous bounds that only guard against hangs; no case depends
on how fast the machine is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from fractal_core.executors import Executor
from fractal_core.executors import ExecutorError
from fractal_core.executors import FailureKind
from fractal_core.executors import Handle
from fractal_core.executors import InlineExecutor
from fractal_core.executors import LocalExecutor
from fractal_core.executors import ResourceRequest
from fractal_core.executors import UnitBatch
from fractal_core.executors import UnitResult
from fractal_core.executors import UnitState
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit

from .conftest import gone
from .conftest import session_left
from .conftest import wait_for_file

GUARD = 60.0  # seconds; a hang guard, not a speed requirement
GRACE = 0.3  # SIGTERM → SIGKILL grace for cancelled units

FACTORIES: dict[str, Callable[[], Executor]] = {
    "inline": lambda: InlineExecutor(cancel_grace=GRACE),
    "local": lambda: LocalExecutor(max_workers=4, cancel_grace=GRACE),
}

UnitFactory = Callable[..., WorkUnit]


@pytest.fixture(params=sorted(FACTORIES))
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """A fresh executor of each kind; shut down (cancelling) after the test."""
    instance = FACTORIES[request.param]()
    yield instance
    instance.shutdown(cancel=True)


@pytest.fixture
def new_executor(
    request: pytest.FixtureRequest, executor: Executor
) -> Iterator[Callable[[], Executor]]:
    """Makes more executors of the same kind (for `attach`)."""
    kind = request.node.callspec.params["executor"]
    made: list[Executor] = []

    def make() -> Executor:
        made.append(FACTORIES[kind]())
        return made[-1]

    yield make
    for instance in made:
        instance.shutdown(cancel=True)


def requires(executor: Executor, capability: str) -> None:
    """Skip, naming the flag, when the executor declares it cannot do this."""
    if not getattr(executor.capabilities, capability):
        pytest.skip(f"{type(executor).__name__}: capabilities.{capability}=False")


def _submit(executor: Executor, units: list[WorkUnit]) -> Handle:
    """Submit from a helper thread so that a hanging executor fails the test."""
    box: list[Handle | BaseException] = []

    def target() -> None:
        try:
            box.append(executor.submit(units))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert box, "submit() hung"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _results(handle: Handle) -> dict[str, UnitResult]:
    assert handle.wait(timeout=GUARD), "units hung"
    return handle.results()


def _ran(result: UnitResult) -> None:
    assert isinstance(result.started_at, datetime)
    assert isinstance(result.ended_at, datetime)
    assert result.started_at.tzinfo is not None
    assert result.started_at <= result.ended_at


def test_protocols(executor: Executor, make_unit: UnitFactory) -> None:
    assert isinstance(executor, Executor)
    handle = _submit(executor, [make_unit("u0")])
    assert isinstance(handle, Handle)
    assert executor.capabilities is not None


def test_outcomes_of_each_kind(executor: Executor, make_unit: UnitFactory) -> None:
    units = [
        make_unit("ok", {"output": {"x": 1}}),
        make_unit("none"),
        make_unit("fails", {"exit": 3}),
        make_unit("bad-command", command="no-such-program-xyz"),
        make_unit("bad-output", {"raw_output": "{"}),
    ]
    results = _results(_submit(executor, units))
    assert list(results) == [u.id for u in units]  # every unit, submission order
    assert results["ok"].status is UnitStatus.OK and results["ok"].output == {"x": 1}
    assert results["none"].ok and results["none"].output is None
    kinds = {
        name: results[name].failure.kind  # type: ignore[union-attr]
        for name in ("fails", "bad-command", "bad-output")
    }
    assert kinds == {
        "fails": FailureKind.NONZERO_EXIT,
        "bad-command": FailureKind.INVALID_COMMAND,
        "bad-output": FailureKind.INVALID_OUTPUT,
    }
    assert results["fails"].failure.returncode == 3  # type: ignore[union-attr]
    assert "hello from stderr" in results["fails"].failure.message  # type: ignore[union-attr]
    for name in ("ok", "none", "fails", "bad-output"):
        _ran(results[name])
        assert results[name].native_id is not None
    assert not units[3].log_file.exists()  # a refused command never starts
    assert executor.executor_error_log is None  # task failures are not executor errors


def test_duplicate_ids_refused(executor: Executor, make_unit: UnitFactory) -> None:
    with pytest.raises(ExecutorError, match="Duplicate unit id"):
        executor.submit([make_unit("a"), make_unit("a")])


def test_handle_ids_are_unique_and_stable(
    executor: Executor, make_unit: UnitFactory
) -> None:
    first = _submit(executor, [make_unit("a")])
    second = _submit(executor, [make_unit("b")])
    assert first.id and second.id and first.id != second.id
    _results(first)
    assert first.snapshot()["handle_id"] == first.id


def test_states_as_completed_and_native_ids(
    executor: Executor, make_unit: UnitFactory
) -> None:
    units = [make_unit(f"u{i}", {"output": i}) for i in range(5)]
    handle = _submit(executor, units)
    seen = [r.unit_id for r in handle.as_completed(timeout=GUARD)]
    assert sorted(seen) == sorted(u.id for u in units)  # each once
    again = [r.unit_id for r in handle.as_completed(timeout=GUARD)]
    assert sorted(again) == sorted(seen)  # a new iterator starts over
    assert handle.done()
    assert handle.states() == {u.id: UnitState.DONE for u in units}
    results = handle.results()
    assert handle.native_ids() == {
        uid: r.native_id for uid, r in results.items() if r.native_id is not None
    }
    assert len(handle.native_ids()) == len(units)


class _CountingBatch(UnitBatch):
    """A `UnitBatch` over ready units that counts how often each is built."""

    def __init__(self, units: list[WorkUnit]) -> None:
        self._units = units
        self.built = 0

    @property
    def resources(self) -> ResourceRequest:
        return self._units[0].resources

    def __len__(self) -> int:
        return len(self._units)

    def __getitem__(self, i):  # type: ignore[no-untyped-def,override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        self.built += 1
        return self._units[i]


def test_unit_batch_runs_like_a_list(
    executor: Executor, make_unit: UnitFactory
) -> None:
    """A lazily built batch gives the same results, states and snapshot as a list."""
    units = [make_unit(f"b{i}", {"output": {"i": i}}, parallel=2) for i in range(5)]
    units[3] = make_unit("b3", {"exit": 4}, parallel=2)
    batch = _CountingBatch(units)
    handle = _submit(executor, batch)  # type: ignore[arg-type]
    results = _results(handle)
    assert list(results) == [u.id for u in units]
    assert [r.ok for r in results.values()] == [True, True, True, False, True]
    assert results["b2"].output == {"i": 2}
    assert handle.states() == {u.id: UnitState.DONE for u in units}
    assert sorted(handle.native_ids()) == sorted(u.id for u in units)
    snapshot = json.loads(json.dumps(handle.snapshot()))
    assert [e["id"] for e in snapshot["units"]] == [u.id for u in units]
    assert all(e["native_id"] for e in snapshot["units"])
    assert batch.built >= len(units)  # the executor asked the batch for its units


def test_states_while_running(
    executor: Executor, make_unit: UnitFactory, tmp_path: Path
) -> None:
    requires(executor, "concurrent")
    pid_file = tmp_path / "pid"
    units = [
        make_unit("running", {"pid_file": str(pid_file), "sleep": 600}, parallel=1),
        make_unit("queued", parallel=1),
    ]
    handle = _submit(executor, units)
    wait_for_file(pid_file)
    assert handle.states() == {
        "running": UnitState.RUNNING,
        "queued": UnitState.PENDING,
    }
    assert not handle.done()
    with pytest.raises(TimeoutError):
        next(handle.as_completed(timeout=0.05))
    handle.cancel()
    assert handle.wait(timeout=GUARD)


def test_cancel_queued_and_running_leaves_no_process(
    executor: Executor, make_unit: UnitFactory, tmp_path: Path
) -> None:
    requires(executor, "cancel_running")
    pid_file, orphan_file = tmp_path / "pid", tmp_path / "orphan"
    running = make_unit(
        "running",
        {
            "pid_file": str(pid_file),
            "orphan_pid_file": str(orphan_file),
            "sleep": 600,
        },
        parallel=1,
    )
    queued = make_unit("queued", parallel=1)
    handle = _submit(executor, [running, queued])
    pids = [int(wait_for_file(pid_file)), int(wait_for_file(orphan_file))]
    handle.cancel()
    handle.cancel()  # idempotent
    results = _results(handle)
    assert {r.status for r in results.values()} == {UnitStatus.CANCELLED}
    assert "before it started" in results["queued"].failure.message  # type: ignore[union-attr]
    assert not queued.log_file.exists()
    for pid in pids:
        assert gone(pid), f"process {pid} survived the cancel"


def test_time_limit(executor: Executor, make_unit: UnitFactory, tmp_path: Path) -> None:
    requires(executor, "time_limit")
    orphan_file = tmp_path / "orphan"
    slow = make_unit(
        "slow",
        {"orphan_pid_file": str(orphan_file), "ignore_term": True, "sleep": 600},
        time_limit=0.5,
    )
    quick = make_unit("quick", {"output": 1}, time_limit=GUARD)
    results = _results(_submit(executor, [slow, quick]))
    failure = results["slow"].failure
    assert failure is not None and failure.kind is FailureKind.TIME_LIMIT
    assert "0.5 seconds" in failure.message
    _ran(results["slow"])
    assert results["quick"].ok and results["quick"].output == 1
    # the limit may strike before the child started: check the whole session
    assert session_left(results["slow"].native_id) == []
    if orphan_file.exists():
        assert gone(int(orphan_file.read_text()))


def test_fifo_output_refused_without_hanging(
    executor: Executor, make_unit: UnitFactory
) -> None:
    unit = make_unit("fifo", {"fifo_output": True})
    result = _results(_submit(executor, [unit]))["fifo"]
    assert result.failure is not None
    assert result.failure.kind is FailureKind.INVALID_OUTPUT
    assert "FIFO" in result.failure.message


def test_snapshot_is_json_and_attach_recovers_results(
    executor: Executor,
    new_executor: Callable[[], Executor],
    make_unit: UnitFactory,
) -> None:
    units = [make_unit("ok", {"output": [1]}), make_unit("fails", {"exit": 2})]
    handle = _submit(executor, units)
    before = _results(handle)
    state = json.loads(json.dumps(handle.snapshot()))
    assert state["handle_id"] == handle.id
    assert [u["id"] for u in state["units"]] == ["ok", "fails"]
    if not executor.capabilities.attach:
        with pytest.raises(ExecutorError, match="attach"):
            new_executor().attach(state)
        return
    attached = new_executor().attach(state)
    assert attached.id == handle.id
    after = _results(attached)
    assert after["ok"].ok and after["ok"].output == [1]
    assert after["fails"].status is UnitStatus.FAILED
    assert after["fails"].failure.kind is before["fails"].failure.kind  # type: ignore[union-attr]


def test_attach_to_running_units(
    executor: Executor,
    new_executor: Callable[[], Executor],
    make_unit: UnitFactory,
    tmp_path: Path,
) -> None:
    requires(executor, "attach")
    requires(executor, "concurrent")
    pid_file = tmp_path / "pid"
    unit = make_unit("u0", {"pid_file": str(pid_file), "sleep": 1, "output": "late"})
    handle = _submit(executor, [unit])
    wait_for_file(pid_file)
    state = json.loads(json.dumps(handle.snapshot()))
    attached = new_executor().attach(state)
    result = _results(attached)["u0"]
    assert result.ok and result.output == "late"


def test_attach_refuses_bad_state(
    executor: Executor, new_executor: Callable[[], Executor]
) -> None:
    requires(executor, "attach")
    for state in ({}, {"version": 1, "executor": "other", "units": []}):
        with pytest.raises(ExecutorError, match="attach"):
            new_executor().attach(state)


def test_shutdown_refuses_new_work(executor: Executor, make_unit: UnitFactory) -> None:
    handle = _submit(executor, [make_unit("a", {"output": 1})])
    executor.shutdown()
    assert handle.done() and handle.results()["a"].output == 1
    with pytest.raises(ExecutorError, match="shut down"):
        executor.submit([make_unit("b")])


def test_shutdown_with_cancel_stops_running_units(
    executor: Executor, make_unit: UnitFactory, tmp_path: Path
) -> None:
    requires(executor, "cancel_running")
    pid_file = tmp_path / "pid"
    handle = _submit(
        executor, [make_unit("u0", {"pid_file": str(pid_file), "sleep": 600})]
    )
    pid = int(wait_for_file(pid_file))
    executor.shutdown(cancel=True)
    assert handle.done()
    assert handle.results()["u0"].status is UnitStatus.CANCELLED
    assert gone(pid)
