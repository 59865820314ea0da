"""Collection from PyPI (network): fractal-tasks-core 2.1.0, collected once.

Downloads are cached in pip's cache (`PIP_CACHE_DIR` if set, else
`~/.cache/pip`), so reruns are fast.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PackageIndexError
from fractal_core.collection import PackageVersionNotFound
from fractal_core.collection import collect_pypi
from fractal_core.domain.task_group import TaskGroupOrigin

pytestmark = pytest.mark.slow


def _cache_dir() -> str:
    return os.environ.get("PIP_CACHE_DIR") or os.path.expanduser("~/.cache/pip")


def test_collect_fractal_tasks_core_from_pypi(tmp_path: Path) -> None:
    settings = CollectionSettings.for_current_python(
        str(tmp_path / "tasks"), pip_cache_dir=_cache_dir(), upgrade_pip=True
    )
    res = collect_pypi(
        "Fractal_Tasks_Core",
        version="2.1.0",
        settings=settings,
        user_id=1,
        pinned_package_versions_post={"packaging": "24.2"},
    )
    assert res.ok, res.activity.log[-5000:]
    group = res.task_group
    assert group.origin == TaskGroupOrigin.PYPI
    assert (group.pkg_name, group.version) == ("fractal-tasks-core", "2.1.0")
    assert "fractal-tasks-core==2.1.0" in group.env_info
    assert "packaging==24.2" in group.env_info  # the post-pin won
    assert "START upgrade pip" in res.activity.log
    assert "--cache-dir" in res.activity.log
    names = [t.name for t in group.task_list]
    assert "Illumination Correction" in names
    task = group.get_task("Illumination Correction")
    assert task.command_parallel.startswith(f"{group.venv_path}/bin/python ")
    assert task.version == "2.1.0"
    # Run the task's command from the collected environment: its argument
    # parser answers (a real run needs an OME-Zarr dataset).
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
