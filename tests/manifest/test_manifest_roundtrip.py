"""Property tests: a valid manifest survives model -> JSON -> model unchanged."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fractal_core.domain import TaskType
from fractal_core.manifest import ManifestV2
from fractal_core.manifest import parse_manifest

names = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)
keys = st.text(alphabet="xyzXYZ_", min_size=1, max_size=5)
json_scalars = st.one_of(
    st.integers(-5, 5), st.booleans(), st.text(max_size=4), st.none()
)
metas = st.dictionaries(keys, json_scalars, max_size=3)
schemas = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "type": st.just("object"),
            "properties": st.dictionaries(
                keys, st.just({"type": "integer"}), max_size=2
            ),
        }
    ),
)
type_dicts = st.dictionaries(keys, st.booleans(), max_size=3)


@st.composite
def task_entries(draw: st.DrawFn, name: str) -> dict[str, Any]:
    sides = draw(
        st.sampled_from(
            [("non_parallel",), ("parallel",), ("non_parallel", "parallel")]
        )
    )
    entry: dict[str, Any] = {"name": name}
    for side in sides:
        entry[f"executable_{side}"] = draw(names) + ".py"
        entry[f"meta_{side}"] = draw(metas)
        entry[f"args_schema_{side}"] = draw(schemas)
    entry["input_types"] = draw(type_dicts)
    entry["output_types"] = draw(type_dicts)
    entry["tags"] = draw(st.lists(names, max_size=3, unique=True))
    entry["type"] = draw(st.one_of(st.none(), st.sampled_from(list(TaskType))))
    entry["category"] = draw(st.one_of(st.none(), names))
    entry["docs_link"] = draw(st.one_of(st.none(), st.just("https://example.org/docs")))
    return entry


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    task_names = draw(st.lists(names, max_size=4, unique=True))
    return {
        "manifest_version": "2",
        "task_list": [draw(task_entries(name)) for name in task_names],
        "has_args_schemas": False,
        "args_schema_version": draw(st.one_of(st.none(), st.just("pydantic_v2"))),
        "authors": draw(st.one_of(st.none(), names)),
    }


@given(manifests())
def test_roundtrip_through_json(data: dict[str, Any]) -> None:
    model = parse_manifest(data)
    again = ManifestV2.model_validate_json(model.model_dump_json())
    assert again == model
    assert json.loads(again.model_dump_json()) == json.loads(model.model_dump_json())


@given(manifests())
def test_to_tasks_keeps_order_and_fields(data: dict[str, Any]) -> None:
    model = parse_manifest(data)
    tasks = model.to_tasks("/env/bin/python", "/pkg", "2.0")
    assert [t.name for t in tasks] == [e.name for e in model.task_list]
    for task, entry in zip(tasks, model.task_list, strict=True):
        assert (task.command_parallel is None) == (entry.executable_parallel is None)
        assert (task.command_non_parallel is None) == (
            entry.executable_non_parallel is None
        )
        if entry.type is not None:
            assert task.type == entry.type
        assert task.input_types == entry.input_types
        assert task.meta_parallel == entry.meta_parallel
