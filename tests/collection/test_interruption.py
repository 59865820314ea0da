"""Ctrl-C (or any BaseException) during an operation leaves no process, no folder,
no lock and no `ongoing` activity behind, and is re-raised.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PixiSettings
from fractal_core.collection import collect_pixi
from fractal_core.collection import collect_wheel
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import reactivate
from fractal_core.collection.locking import task_group_lock
from fractal_core.collection.ownership import marker_path
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status

from .conftest import child_env
from .helpers import make_wheel
from .helpers import manifest
from .standins import SlowPython
from .standins import make_slow_python
from .standins import marked_pids
from .standins import wait_none_left
from .test_pixi import _archive
from .test_pixi import _pixi_home

CHILD = """
import json, sys
from fractal_core.collection import CollectionSettings, collect_wheel
settings = CollectionSettings.model_validate_json(sys.argv[1])
state_file = sys.argv[3]
seen = {}
def on_change(activity):
    seen["activity"] = activity
try:
    collect_wheel(sys.argv[2], settings=settings, on_change=on_change)
    outcome = "returned"
except BaseException as e:
    outcome = type(e).__name__
    raise
finally:
    a = seen.get("activity")
    with open(state_file, "w") as f:
        json.dump({"outcome": outcome, "status": str(a.status) if a else None,
                   "log": a.log if a else None}, f)
"""


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[SlowPython]:
    """A stand-in interpreter (see `standins`); its leftovers are killed at the end."""
    standin = make_slow_python(tmp_path / "standin")
    yield standin
    standin.unblock()
    for pid in marked_pids(standin.marker):  # only if a test failed
        os.kill(pid, signal.SIGKILL)


def _lock_is_free(path: Path, settings: CollectionSettings) -> bool:
    try:
        with task_group_lock(str(path), lock_dir=settings.lock_dir, timeout=0):
            return True
    except Exception:
        return False


def test_sigint_during_collection_leaves_nothing_behind(
    slow: SlowPython, tmp_path: Path
) -> None:
    """Real Ctrl-C: SIGINT to a process collecting a wheel while `-m venv` hangs.

    The stand-in interpreter (see `standins`) blocks venv creation, ignores
    SIGTERM and has a child, as a stubborn pip would.
    """
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    base = tmp_path / "tasks"
    settings = slow.settings(base)
    folder = base / "tiny-tasks" / "1.0.0"
    state = tmp_path / "state.json"
    slow.block()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, settings.model_dump_json(), str(wheel), state],
        env=child_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    slow.wait_started()
    assert folder.exists() and Path(marker_path(str(folder))).exists()
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)  # hang guard only
    assert child.returncode != 0
    assert "KeyboardInterrupt" in stderr
    wait_none_left(slow.marker)
    final = json.loads(state.read_text())
    assert final["outcome"] == "KeyboardInterrupt"
    assert final["status"] == "failed"
    assert "Operation interrupted by KeyboardInterrupt" in final["log"]
    assert f"Removed {folder}" in final["log"]
    assert not folder.exists()
    assert not Path(marker_path(str(folder))).exists()
    assert _lock_is_free(folder, settings)
    slow.unblock()
    again = collect_wheel(wheel, settings=settings)
    assert again.ok, again.activity.log
    assert again.task_group is not None and folder.is_dir()


def _interrupt_at(fragment: str, error: BaseException) -> Callable[..., None]:
    """An activity listener raising `error` once, when the log shows `fragment`."""
    fired: list[bool] = []

    def on_change(activity: TaskGroupActivity) -> None:
        if not fired and fragment in (activity.log or ""):
            fired.append(True)
            raise error

    return on_change


@pytest.mark.parametrize(
    "fragment",
    ["START create venv", "START pip freeze"],
)
def test_interrupted_collection_at_any_step(
    settings: CollectionSettings, tmp_path: Path, fragment: str
) -> None:
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    folder = Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    seen: list[TaskGroupActivity] = []
    listener = _interrupt_at(fragment, KeyboardInterrupt())

    def on_change(activity: TaskGroupActivity) -> None:
        seen.append(activity)
        listener(activity)

    with pytest.raises(KeyboardInterrupt):
        collect_wheel(wheel, settings=settings, on_change=on_change)
    activity = seen[-1]
    assert activity.status == Status.FAILED and activity.timestamp_ended
    assert "Operation interrupted by KeyboardInterrupt" in activity.log
    assert not folder.exists()
    assert not Path(marker_path(str(folder))).exists()
    assert _lock_is_free(folder, settings)
    assert collect_wheel(wheel, settings=settings).ok


def test_system_exit_while_waiting_for_the_lock(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    folder = Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    seen: list[TaskGroupActivity] = []
    listener = _interrupt_at("Waiting for the lock", SystemExit("cancelled"))

    def on_change(activity: TaskGroupActivity) -> None:
        seen.append(activity)
        listener(activity)

    with task_group_lock(str(folder)), pytest.raises(SystemExit, match="cancelled"):
        collect_wheel(wheel, settings=settings, on_change=on_change)
    assert seen[-1].status == Status.FAILED
    assert "Operation interrupted by SystemExit: cancelled" in seen[-1].log
    assert not folder.exists()


@pytest.fixture
def collected(settings: CollectionSettings, tmp_path: Path) -> TaskGroup:
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    res = collect_wheel(wheel, settings=settings, user_id=1)
    assert res.ok and res.task_group is not None, res.activity.log
    return res.task_group


def test_interrupted_deactivation_keeps_group_active(
    settings: CollectionSettings, collected: TaskGroup
) -> None:
    seen: list[TaskGroupActivity] = []

    def on_change(activity: TaskGroupActivity) -> None:
        seen.append(activity)
        if activity.status == Status.ONGOING and len(seen) == 2:
            raise KeyboardInterrupt  # once: pending (1st change), ongoing (2nd)

    with pytest.raises(KeyboardInterrupt):
        deactivate(collected, settings=settings, on_change=on_change)
    assert collected.active is True
    assert seen[-1].status == Status.FAILED
    assert "interrupted by KeyboardInterrupt" in seen[-1].log
    assert Path(str(collected.venv_path)).is_dir()
    assert _lock_is_free(Path(str(collected.path)), settings)


def test_interrupted_reactivation_removes_the_partial_venv(
    settings: CollectionSettings, collected: TaskGroup
) -> None:
    assert deactivate(collected, settings=settings).ok
    seen: list[TaskGroupActivity] = []
    listener = _interrupt_at("START install from pip freeze", KeyboardInterrupt())

    def on_change(activity: TaskGroupActivity) -> None:
        seen.append(activity)
        listener(activity)

    with pytest.raises(KeyboardInterrupt):
        reactivate(collected, settings=settings, on_change=on_change)
    assert seen[-1].status == Status.FAILED
    assert "interrupted by KeyboardInterrupt" in seen[-1].log
    assert not Path(str(collected.venv_path)).exists()
    assert collected.active is False
    assert reactivate(collected, settings=settings).ok


def test_interrupted_delete_is_recorded_and_can_be_retried(
    settings: CollectionSettings, collected: TaskGroup
) -> None:
    seen: list[TaskGroupActivity] = []

    def on_change(activity: TaskGroupActivity) -> None:
        seen.append(activity)
        if activity.status == Status.ONGOING and len(seen) == 2:
            raise KeyboardInterrupt  # once: pending (1st change), ongoing (2nd)

    with pytest.raises(KeyboardInterrupt):
        delete(collected, settings=settings, on_change=on_change)
    assert seen[-1].status == Status.FAILED
    assert "interrupted by KeyboardInterrupt" in seen[-1].log
    assert _lock_is_free(Path(str(collected.path)), settings)
    res = delete(collected, settings=settings)
    assert res.ok and not Path(str(collected.path)).exists()


def test_interrupted_pixi_collection_cleans_up(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """Pixi with the stand-in `pixi` of test_pixi: Ctrl-C during `pixi install`."""
    home = _pixi_home(tmp_path)
    pixi = PixiSettings(versions={"0.47.0": str(home)}, default_version="0.47.0")
    pixi_settings = settings.model_copy(update={"pixi": pixi})
    folder = Path(settings.base_dir) / "mypkg" / "0.1.0"
    seen: list[TaskGroupActivity] = []
    listener = _interrupt_at("START pixi install", KeyboardInterrupt())

    def on_change(activity: TaskGroupActivity) -> None:
        seen.append(activity)
        listener(activity)

    archive = _archive(tmp_path / "up")
    with pytest.raises(KeyboardInterrupt):
        collect_pixi(archive, settings=pixi_settings, on_change=on_change)
    assert seen[-1].status == Status.FAILED
    assert "interrupted by KeyboardInterrupt" in seen[-1].log
    assert not folder.exists()
    assert not Path(marker_path(str(folder))).exists()
    assert collect_pixi(archive, settings=pixi_settings).ok
