"""The progress display's pure parts: lines, de-duplication, modes."""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.engine.control import EventKind
from fractal_core.engine.control import JobEvent
from fractal_core.engine.control import TaskProgress
from fractal_core.errors import FractalCoreError
from fractal_core.views import ProgressPrinter
from fractal_core.views import ViewError
from fractal_core.views import progress_lines
from fractal_core.views.progress import _listener
from fractal_core.views.progress import has_tqdm


class FakeHandle:
    """Only what a listener factory reads (no job runs here)."""

    id = "j1"

    def progress(self) -> list[TaskProgress]:
        return []


counts = st.integers(min_value=0, max_value=10_000)


@given(counts, counts, counts, st.text(min_size=1, max_size=80))
def test_progress_line_shows_the_counters(
    done: int, failed: int, total: int, name: str
) -> None:
    task = TaskProgress(
        key=1,
        name=name,
        order=0,
        status="running",
        units_total=total,
        units_done=done,
        units_failed=failed,
        images_total=total,
        images_done=done,
    )
    (line,) = progress_lines([task])
    assert f"units {done}/{total}" in line
    assert (f"({failed} failed)" in line) == (failed > 0)
    assert line.startswith(name[:49])


def test_printer_skips_repeated_lines_and_prints_the_end_once() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream)
    task = TaskProgress(key=1, name="t", order=0, status="running", units_total=2)
    for _ in range(3):
        printer(JobEvent(EventKind.TASK_PROGRESS, "j", task=task))
    printer(JobEvent(EventKind.CANCEL_REQUESTED, "j", message="stop"))
    for _ in range(2):
        printer(JobEvent(EventKind.JOB_ENDED, "j", status="failed"))
    assert stream.getvalue().splitlines() == [
        "t [running] units 0/2, images 0/0",
        "job j: cancelling (stop)",
        "job j: failed",
    ]


def test_modes() -> None:
    with pytest.raises(ViewError, match="mode='bars'") as info:
        _listener(FakeHandle(), "bars", None)
    assert isinstance(info.value, FractalCoreError)
    assert isinstance(_listener(FakeHandle(), "auto", io.StringIO()), ProgressPrinter)
    assert isinstance(_listener(FakeHandle(), "text", None), ProgressPrinter)
    if not has_tqdm():
        with pytest.raises(ViewError, match="tqdm is not installed"):
            _listener(FakeHandle(), "tqdm", None)


def test_tqdm_bars_when_installed() -> None:
    pytest.importorskip("tqdm")
    stream = io.StringIO()
    bars = _listener(FakeHandle(), "tqdm", stream)
    task = TaskProgress(key=1, name="t", order=0, units_total=4, units_done=3)
    bars(JobEvent(EventKind.TASK_PROGRESS, "j", task=task))
    bars(JobEvent(EventKind.JOB_ENDED, "j", status="done"))
    assert "3/4" in stream.getvalue()


def test_no_notebook_outside_a_kernel() -> None:
    from fractal_core.views.progress import _in_notebook

    assert _in_notebook() is False
    assert "tqdm" not in sys.modules or has_tqdm()
