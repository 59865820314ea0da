"""Fixtures of the collection tests: settings in tmp_path, the testkit wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection.wheels import build_wheel

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
    """The testkit package built with `pip wheel --no-deps`."""
    return build_wheel(TESTKIT_SOURCE, tmp_path_factory.mktemp("testkit_wheel"))


def child_env() -> dict[str, str]:
    """Environment for child Python processes that import fractal_core."""
    import os

    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
