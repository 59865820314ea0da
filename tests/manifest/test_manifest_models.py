"""Manifest v2 model rules (pinned from the reference's cases, written anew)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core.manifest import ManifestV2
from fractal_core.manifest import TaskManifestV2


def first_msg(info: pytest.ExceptionInfo[ValidationError]) -> str:
    return info.value.errors()[0]["msg"]


def test_task_needs_an_executable() -> None:
    assert TaskManifestV2(name="t", executable_parallel="p.py").executable_parallel
    assert TaskManifestV2(name="t", executable_non_parallel="n.py")
    with pytest.raises(ValidationError, match="cannot be both None"):
        TaskManifestV2(name="t")


@pytest.mark.parametrize(
    ("present", "field", "value", "expected"),
    [
        (
            "executable_parallel",
            "meta_non_parallel",
            {"a": 1},
            "meta_non_parallel` must be an empty dict",
        ),
        (
            "executable_parallel",
            "args_schema_non_parallel",
            {"a": 1},
            "args_schema_non_parallel` must be None",
        ),
        (
            "executable_non_parallel",
            "meta_parallel",
            {"a": 1},
            "meta_parallel` must be an empty dict",
        ),
        (
            "executable_non_parallel",
            "args_schema_parallel",
            {"a": 1},
            "args_schema_parallel` must be None",
        ),
    ],
)
def test_absent_side_forbids_meta_and_schema(
    present: str, field: str, value: dict, expected: str
) -> None:
    with pytest.raises(ValidationError) as info:
        TaskManifestV2(name="t", **{present: "x.py", field: value})
    assert expected in first_msg(info)
    assert info.value.errors()[0]["ctx"]["field"] == field


def test_compound_accepts_both_sides() -> None:
    task = TaskManifestV2(
        name="t",
        executable_parallel="p.py",
        executable_non_parallel="n.py",
        meta_parallel={"cpus_per_task": 2},
        meta_non_parallel={"mem": 1000},
    )
    assert task.meta_parallel == {"cpus_per_task": 2}


def test_docs_link_must_be_http_url() -> None:
    with pytest.raises(ValidationError, match="valid URL"):
        TaskManifestV2(name="t", executable_parallel="x", docs_link="not-an-url")
    ok = TaskManifestV2(
        name="t", executable_parallel="x", docs_link=" https://a.org/x "
    )
    assert ok.docs_link == "https://a.org/x"


def test_unknown_type_fails_and_unknown_keys_are_ignored() -> None:
    with pytest.raises(ValidationError):
        TaskManifestV2(name="t", executable_parallel="x", type="serial")
    task = TaskManifestV2.model_validate(
        {"name": "t", "executable_parallel": "x", "future_field": 1}
    )
    assert not hasattr(task, "future_field")


def test_manifest_version_is_the_string_two() -> None:
    assert ManifestV2(manifest_version="2", task_list=[]).task_list == []
    for bad in ("1", 2):
        with pytest.raises(ValidationError):
            ManifestV2(manifest_version=bad, task_list=[])


def _compound(
    name: str, parallel_schema: bool, non_parallel_schema: bool
) -> TaskManifestV2:
    return TaskManifestV2(
        name=name,
        executable_parallel="p",
        executable_non_parallel="n",
        args_schema_parallel={"type": "object"} if parallel_schema else None,
        args_schema_non_parallel={"type": "object"} if non_parallel_schema else None,
    )


@pytest.mark.parametrize(
    ("parallel_schema", "non_parallel_schema", "missing"),
    [
        (True, False, "args_schema_non_parallel"),
        (False, True, "args_schema_parallel"),
        (False, False, None),
    ],
)
def test_has_args_schemas_requires_every_present_side(
    parallel_schema: bool, non_parallel_schema: bool, missing: str | None
) -> None:
    with pytest.raises(ValidationError) as info:
        ManifestV2(
            manifest_version="2",
            has_args_schemas=True,
            task_list=[_compound("c", parallel_schema, non_parallel_schema)],
        )
    message = first_msg(info)
    assert "Manifest has has_args_schemas=True" in message
    assert "'c'" in message
    if missing:
        assert info.value.errors()[0]["ctx"]["field"] == missing
    # Without the flag, missing schemas are fine.
    ManifestV2(
        manifest_version="2",
        task_list=[_compound("c", parallel_schema, non_parallel_schema)],
    )


def test_unique_task_names_readable_message() -> None:
    tasks = [TaskManifestV2(name=n, executable_parallel="x") for n in ("a", "b", "a")]
    with pytest.raises(ValidationError) as info:
        ManifestV2(manifest_version="2", task_list=tasks)
    message = first_msg(info)
    assert "Task names in manifest must be unique" in message
    assert "'a'" in message and "'b'" not in message
    assert info.value.errors()[0]["ctx"]["task_index"] == 2


def test_authors_stripped_and_not_blank() -> None:
    assert (
        ManifestV2(manifest_version="2", task_list=[], authors=" Ann ").authors == "Ann"
    )
    with pytest.raises(ValidationError):
        ManifestV2(manifest_version="2", task_list=[], authors="   ")


def test_json_schema_fields() -> None:
    """The model's JSON schema has the reference's fields and required keys."""
    schema = ManifestV2.model_json_schema()
    assert schema["required"] == ["manifest_version", "task_list"]
    assert set(schema["properties"]) == {
        "manifest_version",
        "task_list",
        "has_args_schemas",
        "args_schema_version",
        "authors",
    }
    task_schema = schema["$defs"]["TaskManifestV2"]
    assert task_schema["required"] == ["name"]
    assert set(task_schema["properties"]) == {
        "name",
        "executable_non_parallel",
        "executable_parallel",
        "input_types",
        "output_types",
        "meta_non_parallel",
        "meta_parallel",
        "args_schema_non_parallel",
        "args_schema_parallel",
        "docs_info",
        "docs_link",
        "category",
        "modality",
        "tags",
        "type",
    }
    assert set(schema["$defs"]["TaskType"]["enum"]) == {
        "compound",
        "converter_compound",
        "non_parallel",
        "converter_non_parallel",
        "parallel",
    }
