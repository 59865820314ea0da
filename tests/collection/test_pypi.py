"""Collection from PyPI (network): fractal-tasks-core 2.1.0, collected once.

The collection is the suite's single PyPI install of fractal-tasks-core: it goes
into the test cache (`collection_cache.cached_fractal_tasks_core`) and the
real-task tests of tests/realtasks reuse it. On a cold cache (CI) this test
runs the collection itself; on a warm one it checks the recorded collection.
Downloads go through pip's cache (`PIP_CACHE_DIR` or `~/.cache/pip`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PackageIndexError
from fractal_core.collection import PackageVersionNotFound
from fractal_core.collection import collect_pypi
from fractal_core.collection.pip_collect import FREEZE_FILENAME
from fractal_core.domain.task_group import TaskGroupActivityStatus
from fractal_core.domain.task_group import TaskGroupOrigin

from .collection_cache import cached_fractal_tasks_core
from .collection_cache import fractal_tasks_core_settings

pytestmark = pytest.mark.slow


def test_collect_fractal_tasks_core_from_pypi() -> None:
    collected = cached_fractal_tasks_core()
    activity, group = collected.activity, collected.task_group
    assert activity.status == TaskGroupActivityStatus.OK, (activity.log or "")[-5000:]
    assert activity.timestamp_ended is not None
    log = activity.log or ""
    for step in ("create venv", "upgrade pip", "install package", "pip freeze"):
        assert f"START {step}" in log, step
    assert "--cache-dir" in log
    assert "fractal-tasks-core==2.1.0" in log  # the pip install argument
    assert group.origin == TaskGroupOrigin.PYPI
    assert (group.pkg_name, group.version) == ("fractal-tasks-core", "2.1.0")
    settings = fractal_tasks_core_settings()
    assert group.path == f"{settings.base_dir}/fractal-tasks-core/2.1.0"
    assert group.venv_path == f"{group.path}/venv"
    # pip freeze stored on the group and in the group folder (for reactivation)
    assert group.env_info is not None
    assert "fractal-tasks-core==2.1.0" in group.env_info.splitlines()
    assert any(line.startswith("ngio==") for line in group.env_info.splitlines())
    assert (collected.path / FREEZE_FILENAME).read_text() == group.env_info
    names = [t.name for t in group.task_list]
    assert {"Import OME-Zarr", "Project Image (HCS Plate)"} <= set(names)
    assert len(names) == 9
    for task in group.task_list:
        assert task.version == "2.1.0"
        for command in (task.command_non_parallel, task.command_parallel):
            if command is not None:
                python, script = command.split(" ")
                assert python == f"{group.venv_path}/bin/python"
                assert script.startswith(f"{group.venv_path}/lib/")
                assert Path(script).is_file()
    # Run a task's command from the collected environment: its argument parser
    # answers (real runs on an OME-Zarr plate are in tests/realtasks).
    task = group.get_task("Illumination Correction")
    assert task.command_parallel is not None
    out = subprocess.run(
        [*task.command_parallel.split(" "), "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "--args-json" in out.stdout


def test_pypi_unknown_package_and_version(tmp_path: Path) -> None:
    settings = CollectionSettings.for_current_python(str(tmp_path / "tasks"))
    with pytest.raises(PackageIndexError, match="fractal-no-such-package-zq9"):
        collect_pypi("fractal-no-such-package-zq9", settings=settings)
    with pytest.raises(PackageVersionNotFound, match="No version starting with 9.9.9"):
        collect_pypi("fractal-tasks-core", version="9.9.9", settings=settings)
    assert not Path(settings.base_dir).exists()
