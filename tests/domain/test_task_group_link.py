"""A task knows its group (issue 13): package, version and active flag."""

from __future__ import annotations

import copy
import pickle

import pytest

from fractal_core.domain import Task
from fractal_core.domain import TaskGroup
from fractal_core.domain import Workflow


def task(name: str = "t", version: str = "0.0.1") -> Task:
    return Task(
        name=name,
        command_non_parallel=f"python /pkg/{name}.py",
        type="non_parallel",
        version=version,
    )


def group(*tasks: Task, **fields: object) -> TaskGroup:
    defaults: dict = {"origin": "pypi", "pkg_name": "My_Pkg", "version": "1.2"}
    return TaskGroup(task_list=list(tasks), **(defaults | fields))


def linked(g: TaskGroup) -> bool:
    return all(t.task_group is g for t in g.task_list)


def test_a_task_outside_any_group() -> None:
    t = task()
    assert t.task_group is None
    assert t.package == (None, "0.0.1")
    assert t.is_active is True


def test_construction_links_tasks() -> None:
    t = task()
    g = group(t)
    assert g.task_list[0] is t and t.task_group is g
    assert t.package == ("my-pkg", "1.2")
    g.active = False
    assert t.is_active is False


def test_group_with_id_links_its_copies() -> None:
    g = group(task(), id=7)
    assert linked(g) and g.task_list[0].taskgroupv2_id == 7


def test_set_task_list_and_assignment_link() -> None:
    g = group()
    g.set_task_list([task("a"), task("b")])
    assert linked(g)
    g.task_list = [task("c")]
    assert linked(g)


def test_a_task_of_another_group_is_copied_not_stolen() -> None:
    t = task()
    first = group(t)
    second = group(t, pkg_name="other")
    assert t.task_group is first
    assert second.task_list[0] is not t and linked(second)
    assert second.task_list[0] == t


@pytest.mark.parametrize(
    "make_copy",
    [
        lambda g: g.model_copy(),
        lambda g: g.model_copy(deep=True),
        copy.copy,
        copy.deepcopy,
        lambda g: pickle.loads(pickle.dumps(g)),
        lambda g: TaskGroup.model_validate_json(g.model_dump_json()),
        lambda g: TaskGroup.model_validate(g.model_dump()),
        lambda g: g.model_copy(update={"task_list": [task("new")]}),
    ],
)
def test_copies_link_their_own_tasks_and_leave_the_original(make_copy) -> None:  # type: ignore[no-untyped-def]
    original = group(task("a"), task("b"))
    copied = make_copy(original)
    assert linked(copied) and linked(original)
    assert copied.model_dump(exclude={"task_list"}) == original.model_dump(
        exclude={"task_list"}
    )


def test_private_link_is_never_dumped_and_not_compared() -> None:
    t = task()
    g = group(t)
    dumped = t.model_dump()
    assert "_group_link" not in dumped and "task_group" not in dumped
    assert "_group_link" not in t.model_dump_json()
    assert t == task()  # equality: fields only, group ignored
    assert g == copy.deepcopy(g)  # no recursion through the back-references
    assert Task.model_validate(dumped).task_group is None


def test_task_copies_keep_the_group() -> None:
    t = task()
    g = group(t)
    assert t.model_copy().task_group is g
    assert copy.deepcopy(t).task_group is g
    assert pickle.loads(pickle.dumps(t)).package == ("my-pkg", "1.2")


def test_workflow_tasks_know_their_group_through_copies() -> None:
    g = group(task("a"))
    wf = Workflow(name="wf")
    wf.append_task(g.task_list[0])
    for candidate in (wf, copy.deepcopy(wf), wf.model_copy(deep=True)):
        assert candidate.task_list[0].task.package == ("my-pkg", "1.2")
    roundtrip = Workflow.model_validate_json(wf.model_dump_json())
    assert roundtrip.task_list[0].task.task_group is None
    assert roundtrip.model_dump() == wf.model_dump()
