"""Workflow builder: order kept consistent, side rules, filters, meta merge, patch."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fractal_core.domain import ArgumentValidationError
from fractal_core.domain import Task
from fractal_core.domain import Workflow
from fractal_core.domain import WorkflowEditError
from fractal_core.domain import WorkflowTask

SCHEMA = {
    "type": "object",
    "properties": {
        "zarr_url": {"type": "string"},
        "init_args": {"type": "object"},
        "level": {"type": "integer", "minimum": 0},
        "channel": {"type": "string"},
    },
    "required": ["zarr_url", "init_args", "channel"],
    "additionalProperties": False,
}


def task(name: str, kind: str = "parallel", **extra: Any) -> Task:
    commands = {
        "parallel": {"command_parallel": "p"},
        "non_parallel": {"command_non_parallel": "n"},
        "converter_non_parallel": {"command_non_parallel": "n"},
    }.get(kind, {"command_parallel": "p", "command_non_parallel": "n"})
    return Task(name=name, type=kind, **commands, **extra)


def orders(workflow: Workflow) -> list[int | None]:
    return [wftask.order for wftask in workflow.task_list]


def names(workflow: Workflow) -> list[str]:
    return [wftask.task.name for wftask in workflow.task_list]


def test_append_insert_move_remove_keep_order() -> None:
    wf = Workflow(name="wf", id=4)
    wf.append_task(task("a"))
    wf.append_task(task("c"))
    wf.insert_task(1, task("b"))
    wf.insert_task(0, task("z"))
    assert names(wf) == ["z", "a", "b", "c"]
    assert orders(wf) == [0, 1, 2, 3]
    assert {wftask.workflow_id for wftask in wf.task_list} == {4}
    moved = wf.move_task(0, -1)
    assert moved.task.name == "z" and names(wf) == ["a", "b", "c", "z"]
    removed = wf.remove_task(1)
    assert removed.task.name == "b" and removed.order is None
    assert names(wf) == ["a", "c", "z"] and orders(wf) == [0, 1, 2]
    for bad in (5, -4, "1"):
        with pytest.raises(WorkflowEditError):
            wf.remove_task(bad)  # type: ignore[arg-type]
    with pytest.raises(WorkflowEditError, match="out of range"):
        wf.insert_task(4, task("q"))


def test_reorder_by_ids() -> None:
    wf = Workflow(
        name="wf",
        task_list=[WorkflowTask(id=10 + i, task=task(n)) for i, n in enumerate("abc")],
    )
    wf.reorder([12, 10, 11])
    assert names(wf) == ["c", "a", "b"] and orders(wf) == [0, 1, 2]
    with pytest.raises(WorkflowEditError, match="repetitions"):
        wf.reorder([10, 10, 11])
    with pytest.raises(WorkflowEditError, match="permutation"):
        wf.reorder([10, 11])
    assert names(wf) == ["c", "a", "b"]


def test_loaded_task_list_sorted_by_order() -> None:
    wf = Workflow(
        name="wf",
        task_list=[
            WorkflowTask(order=1, task=task("b")),
            WorkflowTask(order=0, task=task("a")),
        ],
    )
    assert names(wf) == ["a", "b"]


def test_side_rules_by_type() -> None:
    wf = Workflow(name="wf")
    with pytest.raises(WorkflowEditError, match="args_non_parallel"):
        wf.append_task(task("p"), args_non_parallel={"x": 1})
    with pytest.raises(WorkflowEditError, match="meta_parallel"):
        wf.append_task(task("n", "non_parallel"), meta_parallel={"cpus_per_task": 2})
    with pytest.raises(WorkflowEditError, match="args_parallel"):
        wf.append_task(task("c", "converter_non_parallel"), args_parallel={"x": 1})
    wf.append_task(
        task("k", "compound"), args_parallel={"x": 1}, args_non_parallel={"y": 2}
    )
    assert len(wf.task_list) == 1


def test_reserved_arguments_refused() -> None:
    wf = Workflow(name="wf")
    with pytest.raises(ValidationError, match="zarr_url"):
        wf.append_task(task("a"), args_parallel={"zarr_url": "/x"})
    assert wf.task_list == []


def test_type_filters_must_be_compatible() -> None:
    wf = Workflow(name="wf")
    needs_3d = task("a", input_types={"3D": True})
    with pytest.raises(WorkflowEditError, match="Incompatible type filters"):
        wf.append_task(needs_3d, type_filters={"3D": False})
    wftask = wf.append_task(needs_3d, type_filters={"illum": True})
    assert wftask.input_type_filters() == {"3D": True, "illum": True}


def test_meta_merged_under_user_meta() -> None:
    wf = Workflow(name="wf")
    base = task("a", meta_parallel={"cpus_per_task": 1, "mem": 100})
    wftask = wf.append_task(base, meta_parallel={"mem": 500})
    assert wftask.meta_parallel == {"cpus_per_task": 1, "mem": 500}
    assert wf.append_task(task("b")).meta_parallel is None  # empty → None
    assert wftask.task_type == "parallel" and wftask.task_id is None


def test_task_id_consistency() -> None:
    with pytest.raises(ValidationError, match="task_id"):
        WorkflowTask(task=Task(id=1, name="a", command_parallel="p"), task_id=2)
    assert WorkflowTask(task=Task(id=1, name="a", command_parallel="p")).task_id == 1


def test_update_task_patch_semantics() -> None:
    wf = Workflow(name="wf")
    wf.append_task(task("k", "compound"), args_parallel={"a": 1}, alias="first")
    wftask = wf.update_task(0, {"args_parallel": {}, "description": "text"})
    assert wftask.args_parallel is None and wftask.description == "text"
    assert wftask.alias == "first"
    with pytest.raises(ValidationError, match="type_filters"):
        wf.update_task(0, {"type_filters": None})
    with pytest.raises(ValidationError):
        wf.update_task(0, {"unknown": 1})
    wf.append_task(task("p"))
    with pytest.raises(WorkflowEditError, match="args_non_parallel"):
        wf.update_task(1, {"args_non_parallel": {"x": 1}})


def test_args_validated_against_schema() -> None:
    with_schema = task("measure", args_schema_parallel=SCHEMA)
    wf = Workflow(name="wf")
    # zarr_url and init_args are required by the schema but supplied by the engine.
    wftask = wf.append_task(with_schema, args_parallel={"channel": "DAPI", "level": 1})
    assert wftask.args_parallel == {"channel": "DAPI", "level": 1}
    with pytest.raises(ArgumentValidationError) as info:
        wf.append_task(with_schema, args_parallel={"level": -1, "colour": "x"})
    error = info.value
    assert error.task_name == "measure"
    paths = {(part, path) for part, path, _ in error.problems}
    assert ("args_parallel", "level") in paths
    assert ("args_parallel", "") in paths  # missing 'channel', extra 'colour'
    text = str(error)
    assert "'channel' is a required property" in text and "measure" in text
    assert "zarr_url" not in text
    wf.append_task(with_schema, args_parallel={"level": -1}, validate_args=False)
    with pytest.raises(ArgumentValidationError, match="position 1"):
        wf.validate_arguments()
    assert [p[0] for p in wf.argument_problems()] == [1]
    with pytest.raises(ArgumentValidationError, match="level"):
        wf.update_task(0, {"args_parallel": {"channel": "x", "level": "high"}})


def test_nested_path_and_invalid_schema() -> None:
    nested = {
        "type": "object",
        "properties": {
            "opts": {"type": "object", "properties": {"n": {"type": "integer"}}}
        },
    }
    bad = task("nested", "non_parallel", args_schema_non_parallel=nested)
    with pytest.raises(ArgumentValidationError) as info:
        Workflow(name="w").append_task(bad, args_non_parallel={"opts": {"n": "x"}})
    assert info.value.problems[0][:2] == ("args_non_parallel", "opts/n")
    broken = task("broken", args_schema_parallel={"type": 12})
    with pytest.raises(ArgumentValidationError, match="args schema is invalid"):
        Workflow(name="w").append_task(broken, args_parallel={})


def test_replace_task_keeps_alias_and_args() -> None:
    wf = Workflow(name="wf")
    wf.append_task(task("a", version="1"), args_parallel={"x": 1}, alias="step")
    new = wf.replace_task(0, Task(id=9, name="a", version="2", command_parallel="p2"))
    assert new.task.version == "2" and new.task_id == 9
    assert new.alias == "step" and new.args_parallel == {"x": 1} and new.order == 0


def test_type_filters_flow_and_warnings() -> None:
    wf = Workflow(name="wf")
    with pytest.raises(WorkflowEditError, match="no tasks"):
        wf.type_filters_flow()
    wf.append_task(task("a", output_types={"3D": False}))
    wf.append_task(task("b", input_types={"3D": False}), type_filters={"x": True})
    flow = wf.type_filters_flow()
    assert flow[1]["current_type_filters"] == {"3D": False}
    assert flow[1]["input_type_filters"] == {"3D": False, "x": True}
    warnings = wf.warnings(is_active=lambda t: t.name != "b")
    assert warnings == [None, "Task is not active."]


def test_insert_tasks_all_or_nothing() -> None:
    wf = Workflow(name="wf")
    wf.append_task(task("a"))
    added = wf.insert_tasks(0, [(task("x"), {}), (task("y"), {"alias": "why"})])
    assert [w.task.name for w in added] == ["x", "y"] and names(wf) == ["x", "y", "a"]
    with pytest.raises(WorkflowEditError):
        wf.insert_tasks(
            1, [(task("ok"), {}), (task("bad"), {"args_non_parallel": {"q": 1}})]
        )
    assert names(wf) == ["x", "y", "a"]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "remove", "move"]),
        st.integers(-6, 6),
        st.integers(-6, 6),
    ),
    max_size=25,
)


@given(OPS)
def test_builder_agrees_with_a_plain_list(ops: list[tuple[str, int, int]]) -> None:
    """Random edits: names follow a Python list, `order` is always 0..n-1."""
    wf = Workflow(name="wf")
    model: list[str] = []
    counter = 0
    for op, i, j in ops:
        size = len(model)
        if op == "insert" and -size - 1 <= i <= size:
            name = f"t{counter}"
            counter += 1
            pos = i + size + 1 if i < 0 else i
            wf.insert_task(i, task(name))
            model.insert(pos, name)
        elif op == "remove" and size and -size <= i < size:
            assert wf.remove_task(i).task.name == model.pop(i)
        elif op == "move" and size and -size <= i < size and -size <= j < size:
            wf.move_task(i, j)
            model.insert(j % size, model.pop(i))
        else:
            with pytest.raises(WorkflowEditError):
                if op == "insert":
                    wf.insert_task(i, task("never"))
                elif op == "remove":
                    wf.remove_task(i)
                else:
                    wf.move_task(i, j)
        assert names(wf) == model
        assert orders(wf) == list(range(len(model)))


def test_replace_task_type_rules_and_meta_carry_over() -> None:
    from fractal_core.domain.workflow_task import carried_over_meta

    old_meta = {"mem": 6000, "cpus_per_task": 1, "needs_gpu": True}
    user_meta = {"mem": 6000, "cpus_per_task": 2}
    assert carried_over_meta(user_meta, old_meta, {"needs_luck": True}) == {
        "cpus_per_task": 2,
        "needs_luck": True,
    }
    assert carried_over_meta(user_meta, old_meta, None) == {"cpus_per_task": 2}
    assert carried_over_meta(user_meta, None, {"x": 1}) == user_meta
    assert carried_over_meta(None, old_meta, {"x": 1}) == {"x": 1}

    wf = Workflow(name="wf")
    old = task("np", "non_parallel", meta_non_parallel=old_meta, version="1")
    wf.append_task(
        old, meta_non_parallel={"cpus_per_task": 2}, args_non_parallel={"a": 1}
    )
    wf.task_list[0].meta_non_parallel = user_meta  # as stored (mem default kept)
    new = task("np", "converter_non_parallel", meta_non_parallel={"needs_luck": True})
    replaced = wf.replace_task(0, new)
    assert replaced.task_type == "converter_non_parallel"
    assert replaced.meta_non_parallel == {"cpus_per_task": 2, "needs_luck": True}
    assert replaced.args_non_parallel == {"a": 1}
    with pytest.raises(WorkflowEditError, match="Cannot change task type"):
        wf.replace_task(0, task("np", "non_parallel"))  # converter → non-converter
    with pytest.raises(WorkflowEditError, match="args_parallel"):
        wf.replace_task(0, new, args_parallel={"b": 2})
    wf.append_task(task("p"))
    with pytest.raises(WorkflowEditError, match="Cannot change task type"):
        wf.replace_task(1, task("p", "compound"))
