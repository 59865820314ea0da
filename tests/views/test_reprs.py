"""Short reprs: content and length of each object's one-line view."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import Job
from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.workflow import Workflow
from fractal_core.views.text import clip
from fractal_core.views.text import names_list


def make_task(name: str, kind: str = "parallel") -> Task:
    return Task(
        name=name,
        type=kind,
        command_parallel="/venv/bin/python /pkg/run.py",
        command_non_parallel="/venv/bin/python /pkg/init.py"
        if kind == "compound"
        else None,
        args_schema_parallel={"properties": {"x": {"type": "integer"}}},
        input_types={"is_3D": True},
    )


def make_group(n: int = 3) -> TaskGroup:
    tasks = [make_task(f"Task number {i}") for i in range(n)]
    return TaskGroup(
        origin="pypi",
        pkg_name="fractal-tasks-core",
        version="2.1.0",
        task_list=tasks,
        path="/base/fractal-tasks-core/2.1.0",
    )


def test_workflow_repr_is_short_and_names_tasks() -> None:
    group = make_group(3)
    wf = Workflow(name="mip")
    for task in group.task_list:
        wf.append_task(task, validate_args=False, args_parallel={"x": 1})
    text = repr(wf)
    assert len(text) < 200
    assert "'mip'" in text and "3 tasks" in text
    for task in group.task_list:
        assert task.name in text


def test_workflow_repr_with_many_tasks_says_how_many_more() -> None:
    wf = Workflow(name="long")
    for i in range(40):
        wf.append_task(
            make_task(f"a rather long task name {i:02d}"), validate_args=False
        )
    text = repr(wf)
    assert len(text) < 220
    assert "40 tasks" in text
    more = re.search(r"\+(\d+) more", text)
    assert more is not None
    shown = text.count("a rather long task name")
    assert shown + int(more.group(1)) == 40


def test_task_group_repr() -> None:
    group = make_group(5)
    text = repr(group)
    assert text == ("<TaskGroup fractal-tasks-core 2.1.0 (pypi, 5 tasks, active)>")
    group.active = False
    assert "inactive" in repr(group)


def test_task_and_workflow_task_repr() -> None:
    group = make_group(1)
    task = group.task_list[0]
    assert (
        repr(task) == "<Task 'Task number 0' (parallel) from fractal-tasks-core 2.1.0>"
    )
    wf = Workflow(name="w")
    wft = wf.append_task(task, validate_args=False, alias="first")
    text = repr(wft if wft is not None else wf.task_list[0])
    assert "#0" in text and "'Task number 0'" in text and "alias='first'" in text
    assert "(parallel)" in text


def test_dataset_and_image_list_repr() -> None:
    ds = Dataset(name="plate", zarr_dir="/data/zarr")
    for i in range(4):
        ds.images.add({"zarr_url": f"/data/zarr/p.zarr/A/01/{i}"})
    assert repr(ds) == "<Dataset 'plate' zarr_dir='/data/zarr', 4 images>"
    assert repr(ds.images).startswith("ImageList(len=4")


def test_job_repr() -> None:
    job = Job(id=3, dataset_id=1, workflow_id=2, first_task_index=0, last_task_index=2)
    assert repr(job) == "<Job id=3 submitted tasks 0-2 dataset=1 workflow=2>"


@given(st.lists(st.text(min_size=1, max_size=80), max_size=60))
def test_names_list_stays_within_budget(names: list[str]) -> None:
    text = names_list(names, budget=120)
    assert len(text) <= 120 + 45 + len(", +99 more")
    if names:
        assert repr(clip(names[0], 40)) in text
