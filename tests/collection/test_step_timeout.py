"""Per-step timeouts: a hanging command is killed with its children; folder cleaned."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import collect_wheel
from fractal_core.collection.ownership import marker_path
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status

from .helpers import make_wheel
from .helpers import manifest
from .standins import SlowPython
from .standins import make_slow_python
from .standins import marked_pids
from .standins import wait_none_left


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[SlowPython]:
    standin = make_slow_python(tmp_path / "standin")
    yield standin
    standin.unblock()
    for pid in marked_pids(standin.marker):  # only if a test failed
        os.kill(pid, signal.SIGKILL)


def test_default_step_timeout(settings: CollectionSettings) -> None:
    assert settings.step_timeout == 3600.0
    unlimited = settings.model_copy(update={"step_timeout": None})
    assert unlimited.step_timeout is None


def test_hanging_step_is_killed_and_reported(slow: SlowPython, tmp_path: Path) -> None:
    """The stand-in interpreter (see `standins`) hangs in `-m venv`, ignoring
    SIGTERM, with a child: both must be gone when the operation returns."""
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    settings = slow.settings(tmp_path / "tasks", step_timeout=1.5)
    folder = tmp_path / "tasks" / "tiny-tasks" / "1.0.0"
    slow.block()
    res = collect_wheel(wheel, settings=settings)
    assert res.activity.status == Status.FAILED and res.task_group is None
    assert (
        "Step 'create venv' timed out after 1.5 seconds (the step timeout, "
        "CollectionSettings.step_timeout)" in res.activity.log
    )
    assert slow.started.exists()  # the step did start and hang
    wait_none_left(slow.marker)
    assert not folder.exists()
    assert not Path(marker_path(str(folder))).exists()
