"""Session fixtures for tests against the real fractal-tasks-core package.

- `fractal_tasks_core_collection` (session): fractal-tasks-core 2.1.0 collected
  from PyPI by our own `collect_pypi` into the suite's test cache
  (`$FRACTAL_CORE_TEST_CACHE`, default `~/.cache/fractal_core_tests`), once per
  machine: the slow collection test of tests/collection and these fixtures share
  the same cache entry (see `collection/collection_cache.py`), so a CI run
  installs it from PyPI once.
- `fractal_tasks_core_group` (session): its `TaskGroup` (Task objects with
  commands pointing into the collected venv).
- `fractal_tasks_core_venv` (session): a `TaskVenv` view of the same venv.
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
from realtasks_support import PLATE_SCRIPT
from realtasks_support import CachedCollection
from realtasks_support import SyntheticPlate
from realtasks_support import TaskVenv
from realtasks_support import cached_fractal_tasks_core
from realtasks_support import run_checked
from realtasks_support import task_venv_from_group

from fractal_core.domain.task_group import TaskGroup


@pytest.fixture(scope="session")
def fractal_tasks_core_collection() -> CachedCollection:
    """fractal-tasks-core 2.1.0, collected once (first time: 1-2.5 min, 1.1 GB)."""
    return cached_fractal_tasks_core()


@pytest.fixture(scope="session")
def fractal_tasks_core_group(
    fractal_tasks_core_collection: CachedCollection,
) -> TaskGroup:
    """The collected task group (do not modify it: it is shared)."""
    return fractal_tasks_core_collection.task_group


@pytest.fixture(scope="session")
def fractal_tasks_core_venv(fractal_tasks_core_group: TaskGroup) -> TaskVenv:
    """The collected venv, its package folder and its manifest."""
    return task_venv_from_group(fractal_tasks_core_group, "Import OME-Zarr")


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
