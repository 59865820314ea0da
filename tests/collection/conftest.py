"""Fixtures of the collection tests: settings in tmp_path, the testkit wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTKIT_SOURCE = (
    Path(__file__).resolve().parents[1] / "task_packages" / "fractal_tasks_testkit"
)


@pytest.fixture
def settings(tmp_path: Path) -> CollectionSettings:
    """Local settings: this interpreter, no pip upgrade (keeps tests offline)."""
    return CollectionSettings.for_current_python(
        str(tmp_path / "tasks"), upgrade_pip=False
    )


@pytest.fixture(scope="session")
def testkit_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The testkit package built with `pip wheel --no-deps` (source copied first)."""
    work = tmp_path_factory.mktemp("testkit_wheel")
    shutil.copytree(TESTKIT_SOURCE, work / "src")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(work / "dist"),
            str(work / "src"),
        ],
        check=True,
    )
    (wheel,) = (work / "dist").glob("*.whl")
    return wheel


def child_env() -> dict[str, str]:
    """Environment for child Python processes that import fractal_core."""
    import os

    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
