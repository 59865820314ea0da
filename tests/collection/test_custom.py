"""Custom collection: tasks of an existing environment (this interpreter)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fractal_core.collection import InvalidCollectionRequest
from fractal_core.collection import collect_custom
from fractal_core.domain.task_group import TaskGroupOrigin
from fractal_core.manifest import ManifestError

from .helpers import manifest

PYTHON = sys.executable


def test_custom_with_package_root(tmp_path: Path) -> None:
    (tmp_path / "t1.py").write_text("")
    group = collect_custom(
        manifest("t1"),
        python_interpreter=PYTHON,
        label="My Tasks",
        version="0.3",
        package_root=str(tmp_path),
        check_files=True,
        user_id=2,
    )
    assert group.origin == TaskGroupOrigin.OTHER
    assert group.pkg_name == "My Tasks"  # a label, not normalised
    assert group.version == "0.3" and group.path is None and group.user_id == 2
    (task,) = group.task_list
    assert task.command_non_parallel == f"{PYTHON} {tmp_path}/t1.py"
    assert task.version == "0.3"


@pytest.mark.parametrize("name", ["typing_extensions", "typing-extensions"])
def test_custom_with_package_name(name: str) -> None:
    import typing_extensions

    group = collect_custom(
        manifest("t1"),
        python_interpreter=PYTHON,
        label="x",
        version="1",
        package_name=name,
    )
    root = Path(typing_extensions.__file__).parent
    assert group.task_list[0].command_non_parallel == f"{PYTHON} {root}/t1.py"


def test_custom_failures(tmp_path: Path) -> None:
    ok = {"python_interpreter": PYTHON, "label": "x", "version": "1"}
    cases = [
        (
            {**ok, "package_root": str(tmp_path), "package_name": "x"},
            "One and only one",
        ),
        ({**ok}, "One and only one"),
        ({**ok, "version": "", "package_root": str(tmp_path)}, "version is required"),
        (
            {
                **ok,
                "python_interpreter": "/no/such/python",
                "package_root": str(tmp_path),
            },
            "is not accessible",
        ),
        (
            {**ok, "python_interpreter": str(tmp_path), "package_root": str(tmp_path)},
            "is not a file",
        ),
        ({**ok, "package_root": str(tmp_path / "missing")}, "not accessible"),
        ({**ok, "package_root": PYTHON}, "is not a directory"),
        ({**ok, "package_root": "relative/root"}, "absolute"),
        ({**ok, "package_root": f"{tmp_path}/../x"}, "'..'"),
        (
            {**ok, "package_name": "no_such_package_zq"},
            "Cannot determine 'package_root'",
        ),
        ({**ok, "package_name": "bad;name"}, "package_name"),
        ({**ok, "package_root": str(tmp_path), "check_files": True}, "missing file"),
    ]
    for kwargs, fragment in cases:
        with pytest.raises(InvalidCollectionRequest, match=fragment):
            collect_custom(manifest("t1"), **kwargs)


def test_custom_not_executable(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("not a program")
    with pytest.raises(InvalidCollectionRequest, match="not executable"):
        collect_custom(
            manifest("t1"),
            python_interpreter=str(fake),
            label="x",
            version="1",
            package_root=str(tmp_path),
        )


def test_custom_repeated_task_names_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="unique"):
        collect_custom(
            manifest("a", "a"),
            python_interpreter=PYTHON,
            label="x",
            version="1",
            package_root=str(tmp_path),
        )
