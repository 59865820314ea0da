"""Loading manifests from files: error reports name the file, task and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fractal_core.domain import TaskType
from fractal_core.manifest import MANIFEST_FILENAME
from fractal_core.manifest import ManifestError
from fractal_core.manifest import load_manifest
from fractal_core.manifest import parse_manifest
from fractal_core.manifest import parse_manifest_bytes
from fractal_core.manifest import tasks_from_manifest_file

SCHEMA = {
    "type": "object",
    "properties": {"zarr_url": {"type": "string"}, "level": {"type": "integer"}},
    "required": ["zarr_url"],
}


def small_manifest() -> dict[str, Any]:
    """A package with one task of each of the five types."""
    return {
        "manifest_version": "2",
        "has_args_schemas": True,
        "args_schema_version": "pydantic_v2",
        "authors": "Test Authors",
        "task_list": [
            {
                "name": "create_zarr",
                "type": "converter_compound",
                "executable_non_parallel": "init.py",
                "executable_parallel": "compute.py",
                "args_schema_non_parallel": SCHEMA,
                "args_schema_parallel": SCHEMA,
                "category": "Conversion",
                "tags": ["zarr", "convert"],
            },
            {
                "name": "illumination",
                "executable_parallel": "illum.py",
                "args_schema_parallel": SCHEMA,
                "meta_parallel": {"cpus_per_task": 2},
                "input_types": {"illum_corr": False},
                "output_types": {"illum_corr": True},
                "docs_link": "https://example.org/illum",
            },
            {
                "name": "measure",
                "executable_non_parallel": "measure.py",
                "args_schema_non_parallel": SCHEMA,
            },
            {
                "name": "project",
                "executable_non_parallel": "init.py",
                "executable_parallel": "project.py",
                "args_schema_non_parallel": SCHEMA,
                "args_schema_parallel": SCHEMA,
            },
            {
                "name": "import_ome",
                "type": "converter_non_parallel",
                "executable_non_parallel": "import.py",
                "args_schema_non_parallel": SCHEMA,
            },
        ],
    }


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / MANIFEST_FILENAME
    path.write_text(json.dumps(data))
    return path


def test_load_and_build_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, small_manifest())
    manifest = load_manifest(tmp_path)  # a folder finds the manifest file
    assert [t.name for t in manifest.task_list][:2] == ["create_zarr", "illumination"]
    tasks = manifest.to_tasks("/venv/bin/python", "/pkgs/mypkg", "1.2.3")
    assert [t.type for t in tasks] == [
        TaskType.CONVERTER_COMPOUND,
        TaskType.PARALLEL,
        TaskType.NON_PARALLEL,
        TaskType.COMPOUND,
        TaskType.CONVERTER_NON_PARALLEL,
    ]
    first = tasks[0]
    assert first.command_non_parallel == "/venv/bin/python /pkgs/mypkg/init.py"
    assert first.command_parallel == "/venv/bin/python /pkgs/mypkg/compute.py"
    assert first.version == "1.2.3"
    assert first.args_schema_version == "pydantic_v2"
    assert first.authors == "Test Authors"
    assert tasks[1].meta_parallel == {"cpus_per_task": 2}
    assert tasks[1].docs_link == "https://example.org/illum"
    assert tasks_from_manifest_file(path, "/py", "/root")[2].command_parallel is None


def test_args_schema_version_only_with_has_args_schemas() -> None:
    data = small_manifest()
    data["has_args_schemas"] = False
    tasks = parse_manifest(data).to_tasks("/py", "/root")
    assert all(task.args_schema_version is None for task in tasks)
    assert all(task.version == "0" for task in tasks)  # no package version given


def test_malformed_task_names_task_and_field(tmp_path: Path) -> None:
    data = small_manifest()
    data["task_list"][3]["docs_link"] = "not-a-url"
    data["task_list"][1]["meta_non_parallel"] = {"mem": 1}
    path = write(tmp_path, data)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    error = info.value
    assert error.source == str(path)
    found = {(p.task_index, p.task_name, p.field) for p in error.problems}
    assert (3, "project", "docs_link") in found
    assert (1, "illumination", "meta_non_parallel") in found
    text = str(error)
    assert str(path) in text and "'project'" in text and "docs_link" in text


def test_duplicate_names_reported_with_other_errors(tmp_path: Path) -> None:
    data = small_manifest()
    data["task_list"][4]["name"] = "measure"
    data["task_list"][0]["tags"] = "not-a-list"
    with pytest.raises(ManifestError) as info:
        load_manifest(write(tmp_path, data))
    found = {(p.task_index, p.task_name, p.field) for p in info.value.problems}
    assert (4, "measure", "name") in found
    assert (0, "create_zarr", "tags") in found


def test_duplicate_names_alone(tmp_path: Path) -> None:
    data = small_manifest()
    data["task_list"][2]["name"] = "illumination"
    with pytest.raises(ManifestError, match="unique") as info:
        load_manifest(write(tmp_path, data))
    assert [(p.task_index, p.field) for p in info.value.problems] == [(2, "name")]


def test_dry_run_catches_task_level_rules() -> None:
    """Rules that the reference only checks after installing the package."""
    data = small_manifest()
    data["task_list"][0]["tags"] = ["a", " a "]
    data["task_list"][1]["category"] = ""
    data["task_list"][2]["name"] = "   "
    manifest = parse_manifest(data)
    with pytest.raises(ManifestError) as info:
        manifest.to_tasks("/py", "/root", "1")
    found = {(p.task_index, p.field) for p in info.value.problems}
    assert found == {(0, "tags"), (1, "category"), (2, "name")}


def test_forbidden_characters_in_package_root() -> None:
    manifest = parse_manifest(small_manifest())
    with pytest.raises(ManifestError) as info:
        manifest.to_tasks("/py", "/root (copy)", "1")
    assert {p.task_name for p in info.value.problems} >= {"create_zarr", "measure"}
    assert any("command" in (p.message + str(p.field)) for p in info.value.problems)


def test_has_args_schemas_without_label_fails_at_dry_run() -> None:
    data = small_manifest()
    del data["args_schema_version"]
    with pytest.raises(ManifestError) as info:
        parse_manifest(data).to_tasks("/py", "/root", "1")
    assert [p.field for p in info.value.problems] == ["args_schema_version"]


def test_strict_type_check() -> None:
    data = small_manifest()
    data["task_list"][2]["type"] = "parallel"  # only a non-parallel executable
    manifest = parse_manifest(data)
    assert len(manifest.to_tasks("/py", "/root")) == 5  # compatible default
    with pytest.raises(ManifestError) as info:
        manifest.to_tasks("/py", "/root", strict=True)
    assert {(p.task_name, p.field) for p in info.value.problems} == {
        ("measure", "type")
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "Not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_unreadable_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content)
    with pytest.raises(ManifestError, match=expected):
        load_manifest(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="Cannot read") as info:
        load_manifest(tmp_path / "nope.json")
    assert "nope.json" in str(info.value)


def test_missing_required_manifest_keys() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest({"task_list": []})
    assert [p.field for p in info.value.problems] == ["manifest_version"]


def test_names_equal_after_stripping_clash_at_dry_run() -> None:
    data = small_manifest()
    data["task_list"][2]["name"] = "illumination "
    manifest = parse_manifest(data)  # distinct strings in the manifest itself
    with pytest.raises(ManifestError, match="unique") as info:
        manifest.to_tasks("/py", "/root", "1")
    assert [(p.task_name, p.field) for p in info.value.problems] == [
        ("illumination", "name")
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"manifest_version": "2", "task_list": [\xfe]}', "Not UTF-8 at byte 40"),
        (b"[" * 100_000 + b"]" * 100_000, "Nested deeper than 256 levels"),
        (b'{"manifest_version": "2", "task_list": [], "x": NaN}', "NaN"),
    ],
)
def test_hostile_bytes_give_manifest_errors(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    # Issue 13: these escaped as raw UnicodeDecodeError / RecursionError.
    path = tmp_path / "m.json"
    path.write_bytes(content)
    with pytest.raises(ManifestError, match=expected) as info:
        load_manifest(path)
    assert str(path) in str(info.value)
    with pytest.raises(ManifestError, match=expected):
        parse_manifest_bytes(content, "wheel.whl!m.json")
