"""Property tests: domain objects survive model -> JSON -> model unchanged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fractal_core.domain import Job
from fractal_core.domain import Task
from fractal_core.domain import TaskGroup
from fractal_core.domain import TaskType
from fractal_core.domain import Workflow
from tests.strategies import attribute_filters
from tests.strategies import type_filters

names = st.text(alphabet="abcdefgh_-", min_size=1, max_size=8)
keys = st.text(alphabet="xyz_", min_size=1, max_size=4)
values = st.one_of(st.integers(-3, 3), st.booleans(), st.text(max_size=3))
args = st.one_of(st.none(), st.dictionaries(keys, values, max_size=3))


@st.composite
def tasks(draw: st.DrawFn, name: str) -> Task:
    task_type = draw(st.sampled_from(list(TaskType)))
    commands = {}
    if task_type.uses_parallel:
        commands["command_parallel"] = "/py /pkg/" + draw(names) + ".py"
    if task_type.uses_non_parallel:
        commands["command_non_parallel"] = "/py /pkg/" + draw(names) + ".py"
    return Task(
        id=draw(st.one_of(st.none(), st.integers(1, 99))),
        name=name,
        type=task_type,
        version=draw(st.sampled_from(["1.0", "0.2.0a1", "0"])),
        input_types=draw(st.dictionaries(keys, st.booleans(), max_size=2)),
        output_types=draw(st.dictionaries(keys, st.booleans(), max_size=2)),
        tags=draw(st.lists(names, unique=True, max_size=3)),
        **commands,
    )


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    workflow = Workflow(name=draw(names), description=draw(st.one_of(st.none(), names)))
    for index in range(draw(st.integers(0, 4))):
        task = draw(tasks(f"t{index}"))
        task_type = task.task_type
        workflow.insert_task(
            draw(st.integers(0, len(workflow.task_list))),
            task,
            args_parallel=draw(args) if task_type.uses_parallel else None,
            args_non_parallel=draw(args) if task_type.uses_non_parallel else None,
            alias=draw(st.one_of(st.none(), names)),
            merge_task_meta=False,
        )
    return workflow


@given(workflows())
def test_workflow_roundtrip(workflow: Workflow) -> None:
    again = Workflow.model_validate_json(workflow.model_dump_json())
    assert again == workflow
    assert [w.order for w in again.task_list] == list(range(len(workflow.task_list)))


@given(st.lists(names, unique=True, max_size=4), st.data())
def test_task_group_roundtrip(task_names: list[str], data: st.DataObject) -> None:
    group = TaskGroup(
        id=data.draw(st.one_of(st.none(), st.integers(1, 9))),
        origin=data.draw(st.sampled_from(["pypi", "wheel-file", "pixi", "other"])),
        pkg_name=data.draw(names),
        version="1.0",
        task_list=[data.draw(tasks(name)) for name in task_names],
    )
    assert TaskGroup.model_validate_json(group.model_dump_json()) == group
    if group.id is not None:
        assert {t.taskgroupv2_id for t in group.task_list} <= {group.id}


@given(attribute_filters, type_filters, st.integers(0, 5), st.integers(0, 5))
def test_job_roundtrip(attrs: dict, types: dict, first: int, extra: int) -> None:
    job = Job(
        first_task_index=first,
        last_task_index=first + extra,
        attribute_filters=attrs,
        type_filters=types,
    )
    assert Job.model_validate_json(job.model_dump_json()) == job
