"""Reading workflow files: formats of 2.17.0 and 2.19+, legacy fields, failures."""

from __future__ import annotations

import pydantic
import pytest
from io_factories import build_group

from fractal_core.images.errors import IncompatibleTypeFiltersError
from fractal_core.io.errors import ImportTypeFiltersError
from fractal_core.io.errors import LegacyTaskSourceError
from fractal_core.io.errors import TaskResolutionError
from fractal_core.io.errors import WorkflowImportError
from fractal_core.io.matching import Ownership
from fractal_core.io.matching import ResolutionFailure
from fractal_core.io.schemas import WorkflowImport
from fractal_core.io.workflow_io import INACTIVE_TASK_WARNING
from fractal_core.io.workflow_io import resolve_workflow_import


def entry(name: str = "task_name", version: str | None = "1.0.0", **kw: object) -> dict:
    task = {"pkg_name": "package_name", "name": name}
    if version is not None:
        task["version"] = version
    return {"task": task, **kw}


GROUPS = [
    build_group(1, "0.9.0"),
    build_group(
        2,
        "1.0.0",
        tasks=("task_name", "other"),
        task_kwargs={
            "meta_parallel": {"cpus_per_task": 2, "mem": 100},
            "input_types": {"is_3D": False},
        },
    ),
]


def test_file_of_2_17_imports() -> None:
    data = {
        "name": "MyWorkflow",
        "task_list": [
            {
                "meta_parallel": {"mem": 500},
                "args_parallel": {"x": 1},
                "type_filters": {"is_3D": False},
                "task": {
                    "pkg_name": "package_name",
                    "version": "1.0.0",
                    "name": "other",
                },
            },
            entry(),
        ],
    }
    resolved = resolve_workflow_import(data, GROUPS)
    assert resolved.name == "MyWorkflow" and resolved.description is None
    first, second = resolved.task_list
    assert first.task.id == 201 and second.task.id == 200
    assert first.alias is None and first.description is None
    # file meta wins over the task's defaults, which fill the rest
    assert first.meta_parallel == {"cpus_per_task": 2, "mem": 500}
    assert second.meta_parallel == {"cpus_per_task": 2, "mem": 100}
    assert first.meta_non_parallel is None
    assert first.args_parallel == {"x": 1} and first.type_filters == {"is_3D": False}


def test_file_of_2_19_keeps_alias_and_descriptions() -> None:
    data = {
        "name": "wf",
        "description": "example workflow",
        "task_list": [entry(alias="seg", description="segment nuclei"), entry()],
    }
    resolved = resolve_workflow_import(data, GROUPS)
    assert resolved.description == "example workflow"
    assert resolved.task_list[0].alias == "seg"
    assert resolved.task_list[0].description == "segment nuclei"
    assert resolved.task_list[1].alias is None


def test_source_references_get_a_clear_error() -> None:
    data = {
        "name": "old",
        "task_list": [
            {"task": {"source": "pip_remote:fractal_tasks_core:0.10.0::yokogawa"}},
            entry(),
            {"task": {"source": "PKG_SOURCE:dummy1", "pkg_name": "x", "name": "y"}},
        ],
    }
    with pytest.raises(LegacyTaskSourceError) as info:
        resolve_workflow_import(data, GROUPS)
    assert [pos for pos, _ in info.value.references] == [0, 2]
    message = str(info.value)
    assert "`source`" in message and "2.19" in message and "pkg_name" in message
    assert "PKG_SOURCE:dummy1" in message and "task_list[2]" in message
    # The schema alone refuses it too, naming the field.
    with pytest.raises(pydantic.ValidationError, match="source"):
        WorkflowImport.model_validate(data)


@pytest.mark.parametrize(
    "task",
    [{}, {"pkg_name": "package_name", "version": "1.0.0"}, {"name": "x"}],
)
def test_incomplete_task_reference_is_a_validation_error(task: dict) -> None:
    with pytest.raises(pydantic.ValidationError):
        resolve_workflow_import({"name": "w", "task_list": [{"task": task}]}, GROUPS)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown_key"):
        resolve_workflow_import(
            {"name": "w", "task_list": [entry(unknown_key=1)]}, GROUPS
        )
    with pytest.raises(pydantic.ValidationError, match="id"):
        resolve_workflow_import({"name": "w", "id": 3, "task_list": []}, GROUPS)


def test_legacy_input_filters() -> None:
    legacy = {"types": {"a": True}, "attributes": {}}
    resolved = resolve_workflow_import(
        {
            "name": "w",
            "task_list": [
                entry(input_filters=legacy),
                entry(input_filters={"types": {"b": False}}),  # no attributes key
                entry(type_filters={"c": True}, input_filters=None),
            ],
        },
        GROUPS,
    )
    assert [t.type_filters for t in resolved.task_list] == [
        {"a": True},
        {"b": False},
        {"c": True},
    ]
    both = entry(type_filters={"a": True}, input_filters=legacy)
    with pytest.raises(pydantic.ValidationError, match="both through the legacy"):
        resolve_workflow_import({"name": "w", "task_list": [both]}, GROUPS)
    attrs = entry(input_filters={"types": {}, "attributes": {"well": ["A01"]}})
    with pytest.raises(pydantic.ValidationError, match="attribute filters"):
        resolve_workflow_import({"name": "w", "task_list": [attrs]}, GROUPS)
    bad = entry(input_filters={"types": {"a": "not-a-boolean"}, "attributes": {}})
    with pytest.raises(pydantic.ValidationError, match="valid boolean"):
        resolve_workflow_import({"name": "w", "task_list": [bad]}, GROUPS)


def test_incompatible_type_filters() -> None:
    data = {"name": "w", "task_list": [entry(), entry(type_filters={"is_3D": True})]}
    with pytest.raises(ImportTypeFiltersError) as info:
        resolve_workflow_import(data, GROUPS)
    assert isinstance(info.value, IncompatibleTypeFiltersError)
    assert info.value.position == 1 and "is_3D" in str(info.value)


def test_inactive_task_is_imported_with_a_warning() -> None:
    groups = [build_group(5, "1.0.0", active=False)]
    resolved = resolve_workflow_import({"name": "w", "task_list": [entry()]}, groups)
    assert resolved.task_list[0].warning == INACTIVE_TASK_WARNING
    assert resolved.warnings == [(0, INACTIVE_TASK_WARNING)]


def test_failures_list_every_task_and_the_candidates() -> None:
    data = {
        "name": "w",
        "task_list": [
            entry(),
            entry(name="missing"),
            entry(version="2.0.0"),
            entry(version=None),
        ],
    }
    with pytest.raises(TaskResolutionError) as info:
        resolve_workflow_import(data, GROUPS)
    error = info.value
    outcomes = error.to_data()
    assert [o["outcome"] for o in outcomes] == ["success", "fail", "fail", "fail"]
    assert outcomes[0]["task_id"] == 200
    assert outcomes[1]["available_tasks"] == []
    assert outcomes[2]["available_tasks"] == [
        {
            "version": "1.0.0",
            "older_than_target": True,
            "active": True,
            "is_core": False,
        },
        {
            "version": "0.9.0",
            "older_than_target": True,
            "active": True,
            "is_core": False,
        },
    ]
    assert [f.reason for f in error.failures] == [
        ResolutionFailure.NO_MATCH,
        ResolutionFailure.VERSION_NOT_FOUND,
        ResolutionFailure.VERSION_MISSING,
    ]
    message = str(error)
    assert "task_list[1]" in message and "'missing'" in message
    assert (
        "task_list[2]" in message and "1.0.0 (older than requested, active" in message
    )
    assert "task_list[0]" not in message


def test_retry_with_version_overrides() -> None:
    data = {"name": "w", "task_list": [entry(), entry(version=None)]}
    resolved = resolve_workflow_import(data, GROUPS, override_versions={1: "0.9.0"})
    assert [t.task.id for t in resolved.task_list] == [200, 100]
    with pytest.raises(WorkflowImportError, match="out of bound"):
        resolve_workflow_import(data, GROUPS, override_versions={2: "0.9.0"})


def test_ownership_decides_between_same_version_groups() -> None:
    groups = [
        build_group(1, "1.0.0", user_id=2, user_group_id=7),
        build_group(2, "1.0.0", user_id=3, user_group_id=8),
    ]
    data = {"name": "w", "task_list": [entry()]}
    chosen = resolve_workflow_import(data, groups, Ownership(user_id=3))
    assert chosen.task_list[0].task_group.id == 2
    with pytest.raises(TaskResolutionError, match="none has priority"):
        resolve_workflow_import(data, groups, Ownership(user_id=9))


def test_file_of_2_10_with_legacy_filters_and_spaced_task_names() -> None:
    core = build_group(
        7,
        "1.4.2",
        pkg_name="fractal-tasks-core",
        tasks=("Convert Cellvoyager to OME-Zarr", "Project Image (HCS Plate)"),
    )
    legacy_entry = {
        "meta_non_parallel": {"cpus_per_task": 1, "mem": 500},
        "meta_parallel": {"cpus_per_task": 1, "mem": 500},
        "args_non_parallel": {"image_dirs": ["/data/images/"], "num_levels": 5},
        "args_parallel": None,
        "input_filters": {"attributes": {}, "types": {}},
    }
    data = {
        "name": "wf-2226",
        "task_list": [
            {
                **legacy_entry,
                "task": {
                    "pkg_name": "fractal-tasks-core",
                    "version": "1.4.2",
                    "name": name,
                },
            }
            for name in ("Convert Cellvoyager to OME-Zarr", "Project Image (HCS Plate)")
        ],
    }
    resolved = resolve_workflow_import(data, [core])
    assert [t.task.id for t in resolved.task_list] == [700, 701]
    assert all(t.type_filters == {} for t in resolved.task_list)
    assert resolved.task_list[0].args_non_parallel == legacy_entry["args_non_parallel"]


def test_retry_with_the_newest_versions_on_offer() -> None:
    groups = [*GROUPS, build_group(3, "1.1.0", active=False)]
    data = {"name": "w", "task_list": [entry(version=None), entry(name="missing")]}
    with pytest.raises(TaskResolutionError) as info:
        resolve_workflow_import(data, groups)
    assert info.value.newest_versions() == {0: "1.0.0"}
    assert info.value.newest_versions(active_only=False) == {0: "1.1.0"}
    retry = {"name": "w", "task_list": [entry(version=None)]}
    resolved = resolve_workflow_import(
        retry, groups, override_versions=info.value.newest_versions()
    )
    assert resolved.task_list[0].task_group.version == "1.0.0"
