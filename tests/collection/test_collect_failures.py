"""Collection failures: refused requests create nothing; failed runs clean up."""

from __future__ import annotations

from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import InvalidCollectionRequest
from fractal_core.collection import OperationFailed
from fractal_core.collection import PythonVersionNotAvailable
from fractal_core.collection import collect_wheel
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status
from fractal_core.manifest import ManifestError

from .helpers import make_wheel
from .helpers import manifest


def test_wheel_without_manifest_refused_before_install(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, manifest_data=None, scripts=("t1.py",))
    with pytest.raises(InvalidCollectionRequest, match="no __FRACTAL_MANIFEST__.json"):
        collect_wheel(wheel, settings=settings)
    assert not Path(settings.base_dir).exists()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (manifest("t1", manifest_version="1"), "manifest_version"),
        (manifest("same", "same"), "same"),
        ("{not json", "not valid JSON"),
    ],
)
def test_invalid_manifest_refused_before_install(
    settings: CollectionSettings, tmp_path: Path, data: object, fragment: str
) -> None:
    wheel = make_wheel(tmp_path, manifest_data=data, scripts=("t1.py",))  # type: ignore[arg-type]
    with pytest.raises((ManifestError, InvalidCollectionRequest), match=fragment):
        collect_wheel(wheel, settings=settings)
    assert not Path(settings.base_dir).exists()


def test_repeated_task_names_refused_before_install(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """FOLLOW 3.4: a manifest repeating a task name never reaches pip."""
    wheel = make_wheel(tmp_path, manifest_data=manifest("a", "b", "a"))
    with pytest.raises(ManifestError, match="'a'") as info:
        collect_wheel(wheel, settings=settings)
    assert "unique" in str(info.value)
    assert not Path(settings.base_dir).exists()


def test_request_errors_create_nothing(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, manifest_data=manifest("t1"))
    with pytest.raises(PythonVersionNotAvailable, match="3.9"):
        collect_wheel(wheel, settings=settings, python_version="3.9")
    with pytest.raises(InvalidCollectionRequest, match="pinned_package_versions_pre"):
        collect_wheel(
            wheel, settings=settings, pinned_package_versions_pre={"a b": "1"}
        )
    with pytest.raises(InvalidCollectionRequest, match="package_extras"):
        collect_wheel(wheel, settings=settings, extras="x;rm")
    bad = tmp_path / "bad;name-1.0-py3-none-any.whl"
    bad.write_bytes(wheel.read_bytes())
    with pytest.raises(InvalidCollectionRequest, match="forbidden characters"):
        collect_wheel(bad, settings=settings)
    with pytest.raises(InvalidCollectionRequest, match="not a file"):
        collect_wheel(tmp_path / "missing-1.0-py3-none-any.whl", settings=settings)
    assert not Path(settings.base_dir).exists()


def test_missing_manifest_after_install_fails_and_cleans(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, manifest_data=None, scripts=("t1.py",))
    res = collect_wheel(wheel, settings=settings, user_id=1, check_manifest_first=False)
    assert res.activity.status == Status.FAILED and res.task_group is None
    assert "Manifest path not found for tiny-tasks" in res.activity.log
    assert "Removed" in res.activity.log
    assert not (Path(settings.base_dir) / "1" / "tiny-tasks" / "1.0.0").exists()
    with pytest.raises(OperationFailed, match="collect of 'tiny-tasks'"):
        res.raise_for_failure()


def test_invalid_manifest_after_install_fails_and_cleans(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(
        tmp_path, manifest_data=manifest("t1", manifest_version="1"), scripts=("t1.py",)
    )
    res = collect_wheel(wheel, settings=settings, check_manifest_first=False)
    assert res.activity.status == Status.FAILED and res.task_group is None
    assert "manifest_version" in res.activity.log
    assert res.activity.timestamp_ended is not None
    assert not (Path(settings.base_dir) / "tiny-tasks" / "1.0.0").exists()


def test_missing_executable_fails_and_cleans(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, manifest_data=manifest("t1", "t2"), scripts=("t1.py",))
    res = collect_wheel(wheel, settings=settings)
    assert res.activity.status == Status.FAILED
    assert (
        "Task `t2` has `command_non_parallel` pointing to missing file"
        in res.activity.log
    )
    assert not (Path(settings.base_dir) / "tiny-tasks" / "1.0.0").exists()


def test_pip_failing_mid_install_cleans_partial_folder(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """The package installs, then an impossible post-pin fails: all is removed."""
    wheel = make_wheel(tmp_path, manifest_data=manifest("t1"))
    seen_venv: list[bool] = []
    folder = Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    res = collect_wheel(
        wheel,
        settings=settings,
        pinned_package_versions_post={"pip": "99.99.99"},
        on_change=lambda a: seen_venv.append((folder / "venv" / "bin").exists()),
    )
    assert res.activity.status == Status.FAILED and res.task_group is None
    log = res.activity.log
    assert "Successfully installed tiny-tasks-1.0.0" in log  # it got that far
    assert "No matching distribution found for pip==99.99.99" in log
    assert any(seen_venv)  # the venv existed during the run
    assert not folder.exists()
