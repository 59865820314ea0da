"""Task groups: normalisation, unique task names, pip strings, activities."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core.domain import DuplicateTaskNameError
from fractal_core.domain import InvalidTaskGroupOperation
from fractal_core.domain import Task
from fractal_core.domain import TaskGroup
from fractal_core.domain import TaskGroupActivity
from fractal_core.domain import TaskGroupActivityStatus
from fractal_core.domain import TaskGroupOrigin


def tasks(*names: str) -> list[Task]:
    return [Task(name=name, command_parallel="p") for name in names]


def test_pkg_name_normalised_except_other() -> None:
    assert (
        TaskGroup(origin="pypi", pkg_name="Fractal_Tasks.Core").pkg_name
        == "fractal-tasks-core"
    )
    assert TaskGroup(origin="other", pkg_name=" My Label ").pkg_name == "My Label"
    with pytest.raises(ValidationError):
        TaskGroup(origin="wholesale", pkg_name="x")
    with pytest.raises(ValidationError):
        TaskGroup(origin="pypi", pkg_name="x", path="rel/path")


def test_unique_task_names() -> None:
    with pytest.raises(ValidationError, match="'a'"):
        TaskGroup(origin="other", pkg_name="x", task_list=tasks("a", "b", "a"))
    group = TaskGroup(id=7, origin="other", pkg_name="x")
    with pytest.raises(DuplicateTaskNameError) as info:
        group.set_task_list(tasks("b", "b"))
    assert info.value.duplicates == ["b"]
    group.set_task_list(tasks("a", "b"))
    assert [t.taskgroupv2_id for t in group.task_list] == [7, 7]
    assert group.get_task("b").name == "b"
    with pytest.raises(KeyError, match="'zz'"):
        group.get_task("zz")


def test_pip_install_string() -> None:
    group = TaskGroup(origin="pypi", pkg_name="pkg", version="1.2", pip_extras="a,b")
    assert group.pip_install_string() == "pkg[a,b]==1.2"
    wheel = TaskGroup(
        origin="wheel-file",
        pkg_name="pkg",
        version="1",
        archive_path="/w/pkg-1-py3-none-any.whl",
    )
    assert wheel.pip_install_string() == "/w/pkg-1-py3-none-any.whl"
    pixi = TaskGroup(origin="pixi", pkg_name="pkg", version="1")
    with pytest.raises(InvalidTaskGroupOperation, match="pixi"):
        pixi.pip_install_string()
    with pytest.raises(InvalidTaskGroupOperation):
        pixi.pinned_package_versions_pre_string()


def test_pinned_strings_quoted_and_extras_allowed() -> None:
    group = TaskGroup(
        origin="pypi",
        pkg_name="pkg",
        pinned_package_versions_pre={
            " numpy ": " 1.26 ",
            "dask[distributed]": "2024.1",
        },
    )
    assert group.pinned_package_versions_pre == {
        "numpy": "1.26",
        "dask[distributed]": "2024.1",
    }
    assert (
        group.pinned_package_versions_pre_string()
        == '"numpy==1.26" "dask[distributed]==2024.1"'
    )
    assert group.pinned_package_versions_post_string() == ""
    assert group.pinned_requirements("pre") == [
        "numpy==1.26",
        "dask[distributed]==2024.1",
    ]
    for bad in ({"a;b": "1"}, {"a": "1 && x"}, {"a": '1"'}, {"a": None}):
        with pytest.raises(ValidationError):
            TaskGroup(origin="pypi", pkg_name="p", pinned_package_versions_post=bad)
    with pytest.raises(ValidationError):
        TaskGroup(origin="pypi", pkg_name="p", pip_extras="a;b")


def test_path_containment() -> None:
    group = TaskGroup(origin="pypi", pkg_name="p", version="1", path="/base/1/p/1/")
    assert group.path == "/base/1/p/1"
    group.check_path_under("/base")
    for base in ("/bas", "/base/1/p/1", "/other"):
        with pytest.raises(InvalidTaskGroupOperation, match="not inside"):
            group.check_path_under(base)
    with pytest.raises(ValidationError):
        TaskGroup(origin="pypi", pkg_name="p", path="/base/../etc")


def test_missing_for_pip_collection() -> None:
    group = TaskGroup(origin="pypi", pkg_name="p", version="1", path="/t/p/1")
    assert group.missing_for_pip_collection() == ["venv_path", "python_version"]
    assert group.origin is TaskGroupOrigin.PYPI


def test_timestamps_must_be_aware() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        TaskGroup(origin="other", pkg_name="x", timestamp_created="2024-01-01T00:00:00")


def test_activity_lifecycle() -> None:
    activity = TaskGroupActivity(pkg_name="p", status="pending", action="collect")
    assert activity.version is None and not activity.is_finished
    activity.mark_ongoing()
    assert activity.status == TaskGroupActivityStatus.ONGOING
    activity.finish(ok=False, log="boom")
    assert activity.status == "failed" and activity.log == "boom"
    assert activity.timestamp_ended is not None and activity.is_finished
    with pytest.raises(ValidationError):
        TaskGroupActivity(pkg_name="p", status="ok", action="collect")  # must be "OK"
