"""Session fixtures for tests against the real fractal-tasks-core package.

- `fractal_tasks_core_venv` (session): a `TaskVenv` for `fractal-tasks-core==2.1.0`
  installed from PyPI into a venv cached between runs under
  `$FRACTAL_CORE_TEST_CACHE` (default `~/.cache/fractal_core_tests`), keyed by
  package, version and Python version, built in a temporary folder and renamed
  into place under a file lock (see `realtasks_support.cached_venv`).
- `synthetic_plate_template` (session): the tiny 2-well plate written by
  `make_synthetic_plate.py` (ngio, run with that venv's python); do not modify.
- `synthetic_plate` (function): a private copy of it under `tmp_path / "zarr"`.

Helpers and dataclasses live in `realtasks_support` (import them from there, not
from this conftest). Every test using these fixtures must be `@pytest.mark.slow`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from realtasks_support import FRACTAL_TASKS_CORE_VERSION
from realtasks_support import PLATE_SCRIPT
from realtasks_support import SyntheticPlate
from realtasks_support import TaskVenv
from realtasks_support import cached_venv
from realtasks_support import load_task_venv
from realtasks_support import run_checked


@pytest.fixture(scope="session")
def fractal_tasks_core_venv() -> TaskVenv:
    """fractal-tasks-core 2.1.0 in a cached venv (first run: ~40 s, 1.1 GB)."""
    root = cached_venv("fractal-tasks-core", FRACTAL_TASKS_CORE_VERSION)
    return load_task_venv(
        root, "fractal-tasks-core", "fractal_tasks_core", FRACTAL_TASKS_CORE_VERSION
    )


@pytest.fixture(scope="session")
def synthetic_plate_template(
    fractal_tasks_core_venv: TaskVenv, tmp_path_factory: pytest.TempPathFactory
) -> SyntheticPlate:
    """The synthetic plate, built once per session; do not modify it."""
    zarr_dir = tmp_path_factory.mktemp("synthetic_plate") / "zarr"
    run_checked(
        [str(fractal_tasks_core_venv.python), str(PLATE_SCRIPT), str(zarr_dir)],
        "building the synthetic plate",
        timeout=600,
    )
    return SyntheticPlate(
        zarr_dir=zarr_dir,
        plate_name="synth.zarr",
        wells=("B/03", "B/05"),
        illum_profiles_dir=zarr_dir / "illum_profiles",
    )


@pytest.fixture
def synthetic_plate(
    synthetic_plate_template: SyntheticPlate, tmp_path: Path
) -> Iterator[SyntheticPlate]:
    """A private copy of the synthetic plate under `tmp_path / "zarr"`."""
    zarr_dir = tmp_path / "zarr"
    shutil.copytree(synthetic_plate_template.zarr_dir, zarr_dir)
    yield SyntheticPlate(
        zarr_dir=zarr_dir,
        plate_name=synthetic_plate_template.plate_name,
        wells=synthetic_plate_template.wells,
        illum_profiles_dir=zarr_dir / "illum_profiles",
    )
