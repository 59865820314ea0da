"""The build-once cache of collected task groups (offline: a tiny local wheel).

The same mechanism caches fractal-tasks-core from PyPI for the slow tests
(`collection_cache.cached_fractal_tasks_core`); here it is exercised with real
venvs and real pip on a wheel written by the test, so no network is needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import OperationResult
from fractal_core.collection import collect_wheel

from .collection_cache import RECORD_FILENAME
from .collection_cache import CachedCollectionError
from .collection_cache import _remove_inside
from .collection_cache import cached_collection
from .collection_cache import load_record
from .conftest import REPO_ROOT
from .conftest import child_env
from .helpers import make_wheel
from .helpers import manifest


class CountingCollect:
    """A real `collect_wheel` that counts how often it is called."""

    def __init__(self, wheel: Path) -> None:
        self.wheel = wheel
        self.calls = 0

    def __call__(self, settings: CollectionSettings) -> OperationResult:
        self.calls += 1
        return collect_wheel(self.wheel, settings=settings)


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return make_wheel(tmp_path / "wheels", manifest_data=manifest("t1", "t2"))


def test_collected_once_reused_and_collected_again_when_incomplete(
    settings: CollectionSettings, wheel: Path
) -> None:
    collect = CountingCollect(wheel)
    first = cached_collection(settings, "tiny-tasks", "1.0.0", collect)
    second = cached_collection(settings, "tiny-tasks", "1.0.0", collect)
    assert collect.calls == 1
    assert (first.collected_now, second.collected_now) == (True, False)
    assert first.path == Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    assert second.task_group == first.task_group  # rebuilt from the record
    assert second.activity == first.activity
    assert str(second.activity.status) == "OK"
    assert [t.name for t in second.task_group.task_list] == ["t1", "t2"]
    command = second.task_group.get_task("t2").command_non_parallel
    assert command is not None and command.startswith(f"{second.python} ")
    record_file = first.path / RECORD_FILENAME
    record = record_file.read_text()
    assert set(json.loads(record)) == {"task_group", "activity"}

    record_file.write_text("{not json")  # an unreadable record is no entry
    assert load_record(str(first.path)) is None
    record_file.write_text(record)
    script = Path(command.split(" ")[1])
    script_text = script.read_text()
    script.unlink()  # nor is one whose task scripts are gone
    assert load_record(str(first.path)) is None
    script.write_text(script_text)
    assert load_record(str(first.path)) is not None

    record_file.unlink()  # as if killed before the record was written
    (first.path / "stale.txt").write_text("old")
    again = cached_collection(settings, "tiny-tasks", "1.0.0", collect)
    assert collect.calls == 2 and again.collected_now
    assert not (again.path / "stale.txt").exists()
    assert load_record(str(again.path)) is not None

    # A collect function that lands in another folder is refused.
    with pytest.raises(CachedCollectionError, match="expected"):
        cached_collection(
            settings,
            "other-pkg",
            "1.0.0",
            lambda _: OperationResult(again.activity, again.task_group),
        )


def test_failed_collection_raises_and_leaves_no_entry(
    settings: CollectionSettings, wheel: Path, tmp_path: Path
) -> None:
    # A base interpreter that does not exist: the first step (create venv)
    # fails at once, for real, without a slow install.
    missing = str(tmp_path / "no-such-python")
    broken = settings.model_copy(
        update={
            "python": settings.python.model_copy(
                update={"versions": {settings.python.default_version: missing}}
            )
        }
    )
    with pytest.raises(CachedCollectionError, match="tiny-tasks==1.0.0") as info:
        cached_collection(broken, "tiny-tasks", "1.0.0", CountingCollect(wheel))
    assert "create venv" in str(info.value)  # the tail of the activity log
    assert missing in str(info.value)
    assert not (Path(settings.base_dir) / "tiny-tasks" / "1.0.0").exists()


def test_remove_inside_refuses_outside_paths(tmp_path: Path) -> None:
    base = tmp_path / "cache"
    (base / "inside").mkdir(parents=True)
    for outside in (base, base / ".." / "cache", tmp_path):
        with pytest.raises(RuntimeError, match="Refusing to delete"):
            _remove_inside(outside, base)
    _remove_inside(base / "inside", base)
    assert not (base / "inside").exists() and base.exists()


CHILD = """
import sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from fractal_core.collection import CollectionSettings, collect_wheel
from collection.collection_cache import cached_collection
settings = CollectionSettings.model_validate_json(sys.argv[1])
calls = Path(sys.argv[4])
def collect(s):
    with calls.open("a") as f:
        f.write("collect\\n")
    return collect_wheel(sys.argv[2], settings=s)
entry = cached_collection(settings, "tiny-tasks", "1.0.0", collect)
print(entry.path, entry.collected_now)
"""


def test_concurrent_processes_collect_once(
    settings: CollectionSettings, wheel: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.log"
    tests_dir = str(REPO_ROOT / "tests")
    argv = [sys.executable, "-c", CHILD, settings.model_dump_json(), str(wheel)]
    children = [
        subprocess.Popen(
            [*argv, tests_dir, str(calls)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(3)
    ]
    outputs = [child.communicate(timeout=600) for child in children]
    assert [c.returncode for c in children] == [0, 0, 0], outputs
    folder = Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    lines = sorted(out.strip() for out, _ in outputs)
    assert lines == [f"{folder} False", f"{folder} False", f"{folder} True"]
    assert calls.read_text() == "collect\n"
    leftovers = sorted(p.name for p in folder.parent.iterdir())
    assert leftovers == ["1.0.0", "1.0.0.lock"]
    shutil.rmtree(folder)  # the entry is a plain folder: removable by the user
