"""A step's units built on access (`TaskUnits`) and its compact outcomes.

`TaskOutcomes` must answer exactly what the plain per-unit dictionary it
replaced answered (outputs in unit order, failures in unit order, the images
of successful units); hypothesis checks that on random steps completed in a
random order. The memory case runs a real parallel step of 2,000 `true`
processes and bounds what the engine keeps per unit while they run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.engine import dispatch
from fractal_core.engine.outputs import MergedOutput
from fractal_core.engine.task_files import TaskFiles
from fractal_core.engine.task_files import multisubmit_task_files
from fractal_core.engine.units import TaskOutcomes
from fractal_core.engine.units import TaskUnits
from fractal_core.engine.units import UnitOutcome
from fractal_core.executors import LocalExecutor
from fractal_core.executors import ResourceRequest
from fractal_core.executors import WorkUnit

from .harness import trivial_parallel_job


def _files(tmp_path: Path, n: int) -> Any:
    base = TaskFiles(
        root_dir_local=tmp_path / "local",
        root_dir_remote=Path("/remote/job"),
        task_name="Measure",
        task_order=2,
    )
    return multisubmit_task_files(base, tot_tasks=n, batch_size=3)


def test_task_units_build_each_unit_from_its_files(tmp_path: Path) -> None:
    files = _files(tmp_path, 7)
    resources = ResourceRequest(parallel_tasks_per_job=3)
    units = TaskUnits("/venv/bin/task --x", files, resources, {"A": "1"})
    assert len(units) == 7 and units.resources is resources
    expected = WorkUnit(
        id="4",
        command="/venv/bin/task --x",
        args_file=files[4].args_file_local,
        output_file=files[4].metadiff_file_local,
        log_file=files[4].log_file_local,
        args_file_remote=files[4].args_file_remote.as_posix(),
        output_file_remote=files[4].metadiff_file_remote.as_posix(),
        log_file_remote=files[4].log_file_remote.as_posix(),
        resources=resources,
        env={"A": "1"},
    )
    assert units[4] == expected
    assert units[-3] == expected
    assert units[3:5][1] == expected
    assert [u.id for u in units] == [units.unit_id(i) for i in range(7)]
    assert (
        units[6].args_file_on_host
        == "/remote/job/2_measure/par-000002-0000006-args.json"
    )
    with pytest.raises(IndexError):
        units[7]


# One unit: ok without output, ok with updates/removals, or failed.
_KINDS = st.sampled_from(["empty", "update", "remove", "failed", "none"])


def _outcome(kind: str, index: int, urls: list[str]) -> UnitOutcome:
    if kind == "failed":
        return UnitOutcome(exception=RuntimeError(f"unit {index}"), zarr_urls=urls)
    if kind == "none":  # a unit that wrote no output file
        return UnitOutcome(task_output=MergedOutput(), zarr_urls=urls)
    output = MergedOutput()
    if kind == "update":
        output.image_list_updates.append(
            {"zarr_url": urls[0], "origin": None, "attributes": {}, "types": {}}
        )
    elif kind == "remove":
        output.image_list_removals.append(urls[0])
    return UnitOutcome(task_output=output, zarr_urls=urls)


@settings(max_examples=200, deadline=None)
@given(kinds=st.lists(_KINDS, max_size=30), data=st.data())
def test_task_outcomes_answer_as_the_plain_dictionary(
    kinds: list[str], data: st.DataObject
) -> None:
    # Units may share an image (a compound task's list may repeat a zarr_url).
    urls = [[f"/zarr/{data.draw(st.integers(0, 9))}"] for _ in kinds]
    plain = {i: _outcome(kind, i, urls[i]) for i, kind in enumerate(kinds)}
    order = data.draw(st.permutations(range(len(kinds))))
    compact = TaskOutcomes(len(kinds), lambda i: urls[i])
    for i in order:  # completion order, not unit order
        compact.add(i, plain[i])

    ordered = [plain[i] for i in sorted(plain)]
    outputs = [o.task_output for o in ordered if o.task_output is not None]
    assert compact.any_ok == bool(outputs)
    assert compact.outputs() == [o for o in outputs if not o.is_empty]
    assert compact.failures() == [o for o in ordered if o.exception is not None]
    assert compact.all_ok == all(o.exception is None for o in ordered)
    ok_urls = {url for o in ordered if o.exception is None for url in o.zarr_urls}
    assert compact.ok_urls() == ok_urls
    assert [compact.ok(i) for i in range(len(kinds))] == [
        plain[i].exception is None for i in range(len(kinds))
    ]


def test_single_outcome_keeps_its_images() -> None:
    outcome = UnitOutcome(task_output=MergedOutput(), zarr_urls=["/a", "/b"])
    single = TaskOutcomes.single(outcome)
    assert single.any_ok and single.all_ok and single.ok_urls() == {"/a", "/b"}
    failed = TaskOutcomes.single(UnitOutcome(exception=ValueError("x")))
    assert not failed.any_ok and [o.exception for o in failed.failures()] != [None]


N_MEMORY = 2_000


def _parallel_job(tmp_path: Path, n: int) -> Any:
    """`run_job` of one parallel `true` task over `n` images, checked done."""
    outcome = trivial_parallel_job(tmp_path, n)
    assert outcome.status == "done"
    assert outcome.images is not None
    assert len(outcome.images.filter_zarr_urls({"done": True})) == n
    return outcome


def _interning_lines() -> list[tracemalloc.Filter]:
    """Filters leaving out pathlib's `sys.intern` calls: the process-wide table
    of interned strings grows in steps that depend on what ran before, not on
    what the step keeps (Python 3.11 interns every path part)."""
    import pathlib

    source = Path(pathlib.__file__).read_text().splitlines()
    return [
        tracemalloc.Filter(False, pathlib.__file__, lineno)
        for lineno, line in enumerate(source, start=1)
        if "sys.intern(" in line
    ]


def _traced(snapshot: tracemalloc.Snapshot) -> int:
    kept = snapshot.filter_traces(_interning_lines())
    return sum(stat.size for stat in kept.statistics("filename"))


def held_per_unit(root: Path) -> float:
    """Traced bytes held per unit when a 2,000-unit step closes its units.

    Measured when every result is in (the step's peak), after a small warm-up
    job so that one-off costs (imports, pools) are not counted.
    """
    _parallel_job(root / "warm-up", 50)
    held: list[tracemalloc.Snapshot] = []
    finish_units = dispatch._finish_units

    def measured(*args: Any, **kwargs: Any) -> None:
        if len(args[1]) == N_MEMORY:
            held.append(tracemalloc.take_snapshot())
        finish_units(*args, **kwargs)

    dispatch._finish_units = measured  # type: ignore[assignment]
    tracemalloc.start()
    try:
        start = tracemalloc.take_snapshot()
        _parallel_job(root / "measured", N_MEMORY)
    finally:
        tracemalloc.stop()
        dispatch._finish_units = finish_units  # type: ignore[assignment]
    (peak,) = held
    return (_traced(peak) - _traced(start)) / N_MEMORY


def test_a_parallel_step_keeps_little_per_unit(tmp_path: Path) -> None:
    """About 3.7 KB per unit before units were built on access and outcomes
    kept compact, about 1 KB after (history records, one result per unit).

    Measured in a fresh interpreter: in a long test session, process-wide
    tables that other tests filled (the interned strings pathlib adds to, for
    one) may grow during the window and would be counted against the step.
    """
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    code = (
        "import sys; from pathlib import Path; "
        "from tests.engine.test_task_outcomes import held_per_unit; "
        "print(held_per_unit(Path(sys.argv[1])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    per_unit = float(done.stdout.strip().splitlines()[-1])
    assert per_unit < 2_000, f"{per_unit:.0f} bytes held per unit"


class _RepeatingHandle:
    """A handle whose `as_completed` repeats every result and adds a stray one."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def as_completed(self, timeout: float | None = None) -> Any:
        for result in self._inner.as_completed(timeout):
            yield result
            yield result
        yield replace(result, unit_id="999999")
        yield replace(result, unit_id="²")


class _RepeatingExecutor(LocalExecutor):
    """A buggy executor: what the engine must survive without double counting."""

    def submit(self, units: Any) -> Any:  # type: ignore[override]
        return _RepeatingHandle(super().submit(units))


def test_repeated_and_stray_results_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each unit is judged once; results of no unit are logged and dropped."""
    outcome = trivial_parallel_job(tmp_path, 4, executor_class=_RepeatingExecutor)
    assert outcome.status == "done", outcome.log
    assert outcome.images is not None
    assert len(outcome.images.filter_zarr_urls({"done": True})) == 4
    ignored = [r.getMessage() for r in caplog.records if "Ignoring" in r.getMessage()]
    assert sum("a second result" in m for m in ignored) == 4
    assert sum("no such unit" in m for m in ignored) == 2
