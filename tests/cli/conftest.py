"""The CLI driven as a subprocess: a collected testkit and workflow files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import find_task_groups
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.workflow import Workflow
from fractal_core.io.workflow_io import export_workflow_file
from tests.engine.testkit import build_wheel

HANG_GUARD = 120


@dataclass
class Cli:
    """Run `python -m fractal_core ARGS` and keep what it printed."""

    returncode: int
    stdout: str
    stderr: str


def cli(*args: str | os.PathLike[str], timeout: float = HANG_GUARD) -> Cli:
    proc = subprocess.run(
        [sys.executable, "-m", "fractal_core", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Collected:
    base_dir: Path
    wheel: Path
    first: Cli
    group: TaskGroup

    def workflow_file(
        self, path: Path, steps: list[tuple[str, dict[str, Any]]]
    ) -> Path:
        """A workflow file of testkit tasks, as fractal-server would export it."""
        wf = Workflow(name="cli-workflow")
        for name, kwargs in steps:
            wf.append_task(self.group.get_task(name), validate_args=False, **kwargs)
        return export_workflow_file(wf, [self.group], path)


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Collected:
    """The testkit wheel collected once through `collect` (offline)."""
    root = tmp_path_factory.mktemp("cli")
    wheel = build_wheel(root / "wheel")
    base = root / "tasks"
    first = cli("collect", wheel, "--base-dir", base, "--no-upgrade-pip")
    assert first.returncode == 0, first.stderr
    groups = find_task_groups(CollectionSettings.for_current_python(str(base)))
    assert len(groups) == 1
    return Collected(base_dir=base, wheel=wheel, first=first, group=groups[0])


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
