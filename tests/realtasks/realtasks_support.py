"""Helpers behind the real-task fixtures of conftest.py.

fractal-tasks-core is collected from PyPI with our own `collect_pypi`, once, into
the suite's test cache (`$FRACTAL_CORE_TEST_CACHE`, default
`~/.cache/fractal_core_tests`), by `collection.collection_cache` (tests/collection):
lock-protected, with a `collection.json` record written last so that parallel or
interrupted runs never reuse a half-built venv. `TaskVenv` views that collected
task group as a venv plus manifest; `SyntheticPlate` describes the test plate.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from collection.collection_cache import FRACTAL_TASKS_CORE_VERSION
from collection.collection_cache import CachedCollection
from collection.collection_cache import cached_fractal_tasks_core
from collection.collection_cache import fractal_tasks_core_settings
from collection.collection_cache import suite_cache_dir

from fractal_core.domain.task_group import TaskGroup

__all__ = [
    "FRACTAL_TASKS_CORE_VERSION",
    "PLATE_SCRIPT",
    "CachedCollection",
    "SyntheticPlate",
    "TaskVenv",
    "cached_fractal_tasks_core",
    "fractal_tasks_core_settings",
    "run_checked",
    "suite_cache_dir",
    "task_venv_from_group",
]

PLATE_SCRIPT = Path(__file__).with_name("make_synthetic_plate.py")
RUN_TIMEOUT = 1800  # seconds


@dataclass(frozen=True)
class TaskVenv:
    """An installed task package: its venv python and its manifest."""

    root: Path
    python: Path
    package_name: str
    version: str
    package_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]

    def task(self, name: str) -> dict[str, Any]:
        """The manifest entry of the task called `name`."""
        for task in self.manifest["task_list"]:
            if task["name"] == name:
                return dict(task)
        raise KeyError(f"No task named {name!r} in {self.manifest_path}")

    def command(self, executable: str) -> str:
        """The task command as fractal-server builds it: `<python> <pkg>/<exe>`."""
        return f"{self.python} {self.package_dir / executable}"

    def commands(self, name: str) -> dict[str, str | None]:
        """`{"non_parallel": cmd | None, "parallel": cmd | None}` for task `name`."""
        task = self.task(name)
        return {
            kind: self.command(task[f"executable_{kind}"])
            if task.get(f"executable_{kind}")
            else None
            for kind in ("non_parallel", "parallel")
        }


@dataclass(frozen=True)
class SyntheticPlate:
    """The plate `make_synthetic_plate.py` writes (see that script for contents)."""

    zarr_dir: Path
    plate_name: str
    wells: tuple[str, ...]  # "B/03", "B/05"
    illum_profiles_dir: Path

    @property
    def plate_url(self) -> str:
        return str(self.zarr_dir / self.plate_name)

    @property
    def image_urls(self) -> list[str]:
        return [f"{self.plate_url}/{well}/0" for well in self.wells]


def run_checked(argv: list[str], what: str, timeout: float = RUN_TIMEOUT) -> str:
    """Run `argv`; fail the test session with its output if it fails."""
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {proc.returncode}): {argv}\n"
            f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-5000:]}",
            pytrace=False,
        )
    return proc.stdout


def task_venv_from_group(group: TaskGroup, import_task: str) -> TaskVenv:
    """The venv view of a collected group; the package folder is where the
    command of `import_task` (any task with a non-parallel executable) points."""
    command = group.get_task(import_task).command_non_parallel
    assert command is not None, f"{import_task!r} has no non-parallel command"
    python, script = command.split(" ")
    package_dir = Path(script).parent
    manifest_path = package_dir / "__FRACTAL_MANIFEST__.json"
    return TaskVenv(
        root=Path(str(group.venv_path)),
        python=Path(python),
        package_name=group.pkg_name,
        version=group.version,
        package_dir=package_dir,
        manifest_path=manifest_path,
        manifest=json.loads(manifest_path.read_text()),
    )
