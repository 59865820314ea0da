"""Stored task commands survive any folder name; executables stay in the package."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.manifest import ManifestError
from fractal_core.manifest import parse_manifest
from fractal_core.types.strings import NOT_ALLOWED_FOR_COMMANDS


def manifest(executable: str = "task.py") -> dict:
    return {
        "manifest_version": "2",
        "task_list": [
            {"name": "t", "executable_non_parallel": executable, "type": "non_parallel"}
        ],
    }


def command_for(root: str, python: str = "/venv/bin/python") -> str:
    task = parse_manifest(manifest()).to_tasks(python, root)[0]
    assert task.command_non_parallel is not None
    return task.command_non_parallel


def test_plain_paths_keep_the_reference_form() -> None:
    assert command_for("/pkgs/p-1.0") == "/venv/bin/python /pkgs/p-1.0/task.py"


@given(
    st.text(
        alphabet=st.sampled_from("ab _-.'\"é~=@%+:,"),
        min_size=1,
        max_size=10,
    ).filter(lambda s: s.strip(".") != "" and "/" not in s)
)
def test_commands_split_back_into_the_two_paths(folder: str) -> None:
    root = f"/base/{folder}"
    command = command_for(root)
    assert shlex.split(command) == ["/venv/bin/python", f"{root}/task.py"]


@pytest.mark.parametrize("char", sorted(NOT_ALLOWED_FOR_COMMANDS))
def test_forbidden_characters_in_paths_fail_at_conversion(char: str) -> None:
    with pytest.raises(ManifestError) as info:
        command_for(f"/base/x{char}y")
    (problem,) = info.value.problems
    assert (problem.task_name, problem.field) == ("t", "command")
    assert f"/base/x{char}y/task.py" in problem.message
    with pytest.raises(ManifestError, match="python executable"):
        command_for("/base", python=f"/venv{char}/python")


def test_a_folder_with_a_space_runs_the_right_file(tmp_path: Path) -> None:
    # Issue 13: "/…/my tasks/task.py" used to split into "/…/my" and "tasks/…".
    root = tmp_path / "my tasks"
    root.mkdir()
    (root / "task.py").write_text("print('right file')\n")
    decoy = tmp_path / "my"
    decoy.write_text("print('wrong file')\n")
    task = parse_manifest(manifest()).to_tasks(sys.executable, root)[0]
    assert task.command_non_parallel is not None
    done = subprocess.run(
        shlex.split(task.command_non_parallel),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "right file\n"


@pytest.mark.parametrize(
    ("executable", "expected"),
    [
        ("../outside.py", "'..' component"),
        ("tasks/../../outside.py", "'..' component"),
        ("/usr/bin/python3", "relative to the package root"),
        ("task\x00.py", "control characters"),
    ],
)
def test_executables_must_stay_inside_the_package(
    executable: str, expected: str
) -> None:
    for side in ("executable_non_parallel", "executable_parallel"):
        data = manifest()
        data["task_list"][0][side] = executable
        with pytest.raises(ManifestError, match=expected) as info:
            parse_manifest(data)
        (problem,) = info.value.problems
        assert (problem.task_name, problem.field) == ("t", side)
