"""Reprs of the objects a notebook shows stay short and name what identifies them.

Each object is built large on purpose (big JSON schemas, 1,000 images, full
dumps, long logs): before the views, a three-task Workflow's repr was ~3,000
characters and a TaskGroup's ~8,000. Pydantic equality and dumps are unchanged.
"""

from __future__ import annotations

import copy
import re

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import fractal_core as fc

LIMIT = 200
BIG_SCHEMA = {
    "properties": {
        f"parameter_{k}": {"type": "integer", "description": "d" * 80}
        for k in range(60)
    }
}


def big_task(name: str, i: int = 0) -> fc.Task:
    return fc.Task(
        id=100 + i,
        name=name,
        type="compound",
        command_non_parallel="/venv/bin/python /pkg/init.py",
        command_parallel="/venv/bin/python /pkg/run.py",
        args_schema_non_parallel=BIG_SCHEMA,
        args_schema_parallel=BIG_SCHEMA,
        docs_info="documentation " * 300,
        input_types={"is_3D": True},
        output_types={"is_3D": False},
    )


def big_group(n: int = 3) -> fc.TaskGroup:
    return fc.TaskGroup(
        id=7,
        origin="pypi",
        pkg_name="fractal-tasks-core",
        version="1.4.2",
        task_list=[big_task(f"Task number {i}", i) for i in range(n)],
        path="/base/fractal-tasks-core/1.4.2",
        env_info="numpy==2.0\n" * 300,
    )


def three_task_workflow() -> fc.Workflow:
    workflow = fc.Workflow(id=11, name="Illumination correction and MIP")
    for task in big_group(3).task_list:
        workflow.append_task(
            task,
            validate_args=False,
            args_parallel={f"parameter_{k}": k for k in range(60)},
            args_non_parallel={"image_dir": "/data/raw" * 20},
        )
    return workflow


def big_dataset(n: int = 1000) -> fc.Dataset:
    images = [
        {
            "zarr_url": f"/data/zarr/plate.zarr/B/{i // 100:02d}/{i % 100}",
            "attributes": {"well": f"B{i // 100:02d}", "plate": "plate.zarr"},
            "types": {"is_3D": i % 2 == 0},
        }
        for i in range(n)
    ]
    return fc.Dataset(id=5, name="plate", zarr_dir="/data/zarr", images=images)


def test_three_task_workflow_repr() -> None:
    workflow = three_task_workflow()
    text = repr(workflow)
    assert len(text) < LIMIT, text
    assert "'Illumination correction and MIP'" in text
    assert "id=11" in text and "3 tasks" in text
    assert all(f"Task number {i}" in text for i in range(3))
    # what the repr used to print: every field, schemas and arguments included
    assert len(repr(workflow.model_dump())) > 10_000


def test_task_group_repr() -> None:
    group = big_group(3)
    text = repr(group)
    assert len(text) < LIMIT, text
    for part in ("fractal-tasks-core", "1.4.2", "pypi", "3 tasks", "active", "id=7"):
        assert part in text
    assert len(repr(group.model_dump())) > 10_000


def test_dataset_with_1000_images_repr() -> None:
    dataset = big_dataset()
    text = repr(dataset)
    assert len(text) < LIMIT, text
    assert "'plate'" in text and "id=5" in text
    assert "1000 images" in text and "/data/zarr" in text


def test_image_list_repr() -> None:
    images = big_dataset().images
    text = repr(images)
    assert len(text) < LIMIT, text
    assert text.startswith("ImageList(len=1000")
    assert "/data/zarr/plate.zarr/B/00/0" in text
    assert repr(fc.ImageList()) == "ImageList(len=0)"


def test_job_repr_leaves_out_the_dumps_and_logs() -> None:
    workflow, dataset = three_task_workflow(), big_dataset()
    job = fc.Job(
        id=42,
        project_id=1,
        dataset_id=5,
        workflow_id=11,
        first_task_index=0,
        last_task_index=2,
        workflow_dump=workflow.model_dump(),
        dataset_dump={"name": "plate", "images": list(dataset.images)},
        log="line\n" * 5000,
        status="failed",
    )
    text = repr(job)
    assert len(text) < LIMIT, text
    for part in ("id=42", "failed", "tasks 0-2", "dataset=5", "workflow=11"):
        assert part in text


def test_task_repr() -> None:
    group = big_group(1)
    text = repr(group.task_list[0])
    assert len(text) < LIMIT, text
    assert "'Task number 0'" in text and "(compound)" in text
    assert "fractal-tasks-core 1.4.2" in text and "id=100" in text


def test_workflow_task_repr() -> None:
    wftask = three_task_workflow().task_list[2]
    text = repr(wftask)
    assert len(text) < LIMIT, text
    assert "#2" in text and "'Task number 2'" in text and "(compound)" in text


def test_reprs_leave_pydantic_equality_and_dumps_alone() -> None:
    workflow, dataset, group = three_task_workflow(), big_dataset(), big_group(3)
    for obj in (workflow, dataset, group, group.task_list[0]):
        twin = copy.deepcopy(obj)
        assert twin == obj and twin.model_dump() == obj.model_dump()
        assert repr(twin) == repr(obj)
    renamed = workflow.model_copy(update={"name": "other"})
    assert renamed != workflow and "'other'" in repr(renamed)
    dumped = dataset.model_dump()
    assert len(dumped["images"]) == 1000 and dumped["name"] == "plate"


NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300
).filter(lambda s: s.strip() == s and s != "")
DATASET_NAMES = st.from_regex(r"[a-zA-Z0-9_.][a-zA-Z0-9_. -]{0,299}", fullmatch=True)
SEGMENT = st.from_regex(r"[a-z0-9_]{1,40}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    name=NAMES,
    dataset_name=DATASET_NAMES,
    task_names=st.lists(NAMES, min_size=1, max_size=30, unique=True),
    version=st.from_regex(r"[0-9]{1,60}(\.[0-9]{1,40}){0,3}", fullmatch=True),
    pkg=st.from_regex(r"[a-z][a-z0-9-]{0,120}", fullmatch=True),
    segments=st.lists(SEGMENT, min_size=1, max_size=12),
)
def test_reprs_stay_under_the_limit_whatever_the_names(
    name: str,
    dataset_name: str,
    task_names: list[str],
    version: str,
    pkg: str,
    segments: list[str],
) -> None:
    tasks = [
        fc.Task(name=n, type="parallel", command_parallel="/venv/bin/python /p.py")
        for n in task_names
    ]
    group = fc.TaskGroup(
        id=10**12, origin="wheel-file", pkg_name=pkg, version=version,
        task_list=tasks, path="/base/x",
    )  # fmt: skip
    workflow = fc.Workflow(id=10**12, name=name)
    for task in group.task_list:
        workflow.append_task(task, validate_args=False, alias=name)
    zarr_dir = "/" + "/".join(segments)
    dataset = fc.Dataset(id=10**12, name=dataset_name, zarr_dir=zarr_dir)
    dataset.images.add({"zarr_url": zarr_dir + "/" + "/".join(segments)})
    objects = [workflow, group, dataset, dataset.images, group.task_list[0]]
    objects.append(workflow.task_list[-1])
    for obj in objects:
        text = repr(obj)
        assert len(text) <= LIMIT, (type(obj).__name__, len(text), text)
        assert "\n" not in text
    shown = re.search(r"(\d+) tasks?", repr(workflow))
    assert shown is not None and int(shown.group(1)) == len(task_names)


def test_print_shows_the_short_form() -> None:
    """str() (what print() shows) is the short repr, not pydantic's field list."""
    workflow, dataset, group = three_task_workflow(), big_dataset(), big_group(3)
    job = fc.Job(
        id=1,
        project_id=1,
        dataset_id=5,
        workflow_id=11,
        first_task_index=0,
        last_task_index=2,
        workflow_dump=workflow.model_dump(),
        dataset_dump={"name": "plate"},
    )
    objects = (workflow, dataset, group, group.task_list[0], workflow.task_list[0], job)
    for obj in objects:
        assert str(obj) == repr(obj)
        assert len(str(obj)) < LIMIT
