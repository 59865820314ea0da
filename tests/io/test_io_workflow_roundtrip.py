"""Workflow export/import round trips with real domain workflows."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from io_factories import build_group

from fractal_core.domain.errors import ArgumentValidationError
from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.workflow import Workflow
from fractal_core.io.workflow_io import WorkflowExportError
from fractal_core.io.workflow_io import export_workflow
from fractal_core.io.workflow_io import export_workflow_file
from fractal_core.io.workflow_io import import_workflow
from fractal_core.io.workflow_io import import_workflow_file


def compound_group(gid: int, pkg_name: str, version: str) -> TaskGroup:
    """A group with a converter, a compound and a parallel task (with meta)."""
    tasks = [
        Task(
            id=gid * 100,
            name="create_zarr",
            type="converter_compound",
            command_non_parallel="/bin/echo init",
            command_parallel="/bin/echo compute",
            meta_non_parallel={"cpus_per_task": 1},
            output_types={"is_3D": True},
            version=version,
        ),
        Task(
            id=gid * 100 + 1,
            name="illumination_correction",
            type="parallel",
            command_parallel="/bin/echo ic",
            meta_parallel={"mem": 4000},
            input_types={"illumination_corrected": False},
            args_schema_parallel={
                "type": "object",
                "properties": {"overwrite": {"type": "boolean"}},
                "required": ["zarr_url"],
            },
            version=version,
        ),
    ]
    return TaskGroup(
        id=gid,
        origin="pypi",
        pkg_name=pkg_name,
        version=version,
        user_id=1,
        task_list=tasks,
    )


GROUPS = [
    compound_group(1, "fractal-tasks-core", "1.4.0"),
    compound_group(2, "fractal-tasks-core", "1.3.2"),
    compound_group(3, "APX_Tasks", "0.1.0a2"),
]


def build_workflow_in_python() -> Workflow:
    core, old_core, apx = GROUPS
    workflow = Workflow(name="Plate processing")
    workflow.append_task(
        core.get_task("create_zarr"),
        args_non_parallel={"image_dirs": ["/data/raw"], "num_levels": 5},
        meta_parallel={"mem": 500},
    )
    workflow.append_task(
        old_core.get_task("illumination_correction"),
        args_parallel={"overwrite": True},
        type_filters={"is_3D": True},
    )
    workflow.append_task(apx.get_task("illumination_correction"))
    return workflow


def test_round_trip_with_hand_added_alias_and_descriptions(tmp_path: Path) -> None:
    exported = export_workflow(build_workflow_in_python(), GROUPS)
    assert list(exported) == ["name", "description", "task_list"]
    assert list(exported["task_list"][0]) == [
        "meta_non_parallel",
        "meta_parallel",
        "args_non_parallel",
        "args_parallel",
        "type_filters",
        "description",
        "alias",
        "task",
    ]
    assert [t["task"] for t in exported["task_list"]] == [
        {"pkg_name": "fractal-tasks-core", "version": "1.4.0", "name": "create_zarr"},
        {
            "pkg_name": "fractal-tasks-core",
            "version": "1.3.2",
            "name": "illumination_correction",
        },
        {
            "pkg_name": "apx-tasks",
            "version": "0.1.0a2",
            "name": "illumination_correction",
        },
    ]
    assert exported["task_list"][0]["meta_non_parallel"] == {"cpus_per_task": 1}
    assert exported["task_list"][0]["meta_parallel"] == {"mem": 500}
    assert exported["task_list"][2]["meta_parallel"] == {"mem": 4000}

    # Edit the file by hand, as a user of a 2.19+ server would.
    edited = copy.deepcopy(exported)
    edited["description"] = "Convert, then correct illumination"
    for i, wftask in enumerate(edited["task_list"]):
        wftask["alias"] = f"step {i}"
        wftask["description"] = f"what step {i} does"
    source = tmp_path / "edited.json"
    source.write_text(json.dumps(edited, indent=4))

    imported = import_workflow_file(source, GROUPS)
    assert imported.description == "Convert, then correct illumination"
    assert [t.alias for t in imported.task_list] == ["step 0", "step 1", "step 2"]
    assert [t.task.id for t in imported.task_list] == [100, 201, 301]

    again = export_workflow_file(imported, GROUPS, tmp_path / "again.json")
    reread = json.loads(again.read_text())
    assert reread.keys() == edited.keys()
    for key in edited:
        if key != "task_list":
            assert reread[key] == edited[key]
    for mine, theirs in zip(reread["task_list"], edited["task_list"], strict=True):
        assert mine.keys() == theirs.keys()
        for key in theirs:
            assert mine[key] == theirs[key], key


def test_file_of_2_17_round_trips_with_null_alias_and_description() -> None:
    data = {
        "name": "from 2.17",
        "task_list": [
            {
                "args_parallel": {"overwrite": False},
                "meta_parallel": {"mem": 4000},
                "type_filters": {},
                "task": {
                    "pkg_name": "fractal-tasks-core",
                    "version": "1.4.0",
                    "name": "illumination_correction",
                },
            }
        ],
    }
    workflow = import_workflow(data, GROUPS, project_id=7)
    assert workflow.project_id == 7 and workflow.task_list[0].order == 0
    exported = export_workflow(workflow, GROUPS)
    assert exported["description"] is None
    entry = exported["task_list"][0]
    assert entry["alias"] is None and entry["description"] is None
    assert {k: entry[k] for k in data["task_list"][0]} == data["task_list"][0]


def test_reserved_argument_keys_are_refused() -> None:
    data = {
        "name": "w",
        "task_list": [
            {
                "args_parallel": {"zarr_url": "/x"},
                "task": {
                    "pkg_name": "fractal-tasks-core",
                    "version": "1.4.0",
                    "name": "illumination_correction",
                },
            }
        ],
    }
    with pytest.raises(pydantic.ValidationError, match="forbidden keys"):
        import_workflow(data, GROUPS)


def test_argument_schema_checked_only_on_request() -> None:
    data = {
        "name": "w",
        "task_list": [
            {
                "args_parallel": {"overwrite": "yes please"},
                "task": {
                    "pkg_name": "fractal-tasks-core",
                    "version": "1.4.0",
                    "name": "illumination_correction",
                },
            }
        ],
    }
    assert import_workflow(data, GROUPS).task_list[0].args_parallel == {
        "overwrite": "yes please"
    }
    with pytest.raises(ArgumentValidationError, match="overwrite"):
        import_workflow(data, GROUPS, validate_args=True)


def test_export_needs_the_task_group() -> None:
    workflow = build_workflow_in_python()
    with pytest.raises(WorkflowExportError, match="create_zarr"):
        export_workflow(workflow, GROUPS[1:2])


def test_export_writes_a_version_for_legacy_groups() -> None:
    group = build_group(9, "0")
    workflow = Workflow(name="w")
    workflow.append_task(group.task_list[0])
    exported = export_workflow(workflow, [group])
    assert exported["task_list"][0]["task"]["version"] == "0"
    assert import_workflow(exported, [group]).task_list[0].task.id == 900


# --- property: export(import(export(w))) == export(w) -------------------------

TASKS = [(group, task) for group in GROUPS for task in group.task_list]
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3),
    ),
    max_leaves=8,
)
arg_dicts = st.dictionaries(
    st.sampled_from(["a", "b", "channel", "levels"]), json_values, max_size=3
)
texts = st.none() | st.text("abcdef XYZ-", min_size=1, max_size=10).map(
    lambda s: s.strip() or "x"
)


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    workflow = Workflow(name="w", description=draw(texts))
    for _ in range(draw(st.integers(0, 5))):
        _, task = draw(st.sampled_from(TASKS))
        kwargs: dict[str, Any] = {"alias": draw(texts), "description": draw(texts)}
        if task.task_type.uses_parallel:
            kwargs["args_parallel"] = draw(st.none() | arg_dicts)
            kwargs["meta_parallel"] = draw(st.none() | arg_dicts)
        if task.task_type.uses_non_parallel:
            kwargs["args_non_parallel"] = draw(st.none() | arg_dicts)
        free_keys = [k for k in ("x", "y") if k not in task.input_types]
        kwargs["type_filters"] = draw(
            st.dictionaries(st.sampled_from(free_keys), st.booleans())
        )
        workflow.append_task(task, validate_args=False, **kwargs)
    return workflow


@given(workflows())
def test_export_import_export_is_stable(workflow: Workflow) -> None:
    first = export_workflow(workflow, GROUPS)
    imported = import_workflow(json.loads(json.dumps(first)), GROUPS)
    assert export_workflow(imported, GROUPS) == first
    assert [t.task.id for t in imported.task_list] == [
        t.task.id for t in workflow.task_list
    ]
    for old, new in zip(workflow.task_list, imported.task_list, strict=True):
        for field in ("args_parallel", "args_non_parallel", "meta_parallel", "alias"):
            assert getattr(new, field) == getattr(old, field)


def test_export_of_copied_tasks_without_ids() -> None:
    def group(version: str) -> TaskGroup:
        task = Task(
            name="t", type="parallel", command_parallel="/bin/true", version=version
        )
        return TaskGroup(
            origin="pypi", pkg_name="pkg", version=version, task_list=[task]
        )

    old, new = group("1.0.0"), group("2.0.0")
    workflow = Workflow(name="w")
    workflow.insert_tasks(0, [(new.task_list[0], {}), (old.task_list[0], {})])
    workflow = workflow.model_copy(deep=True)
    assert workflow.task_list[0].task is not new.task_list[0]
    exported = export_workflow(workflow, [old, new])
    assert [t["task"]["version"] for t in exported["task_list"]] == ["2.0.0", "1.0.0"]
    twin = TaskGroup(
        origin="other", pkg_name="twin", version="2.0.0", task_list=[new.task_list[0]]
    )
    with pytest.raises(WorkflowExportError, match="several task groups"):
        export_workflow(workflow, [old, new, twin])
