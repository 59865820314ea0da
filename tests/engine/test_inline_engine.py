"""The engine end to end with in-process tasks (InlineExecutor).

A hypothesis test drives a parallel task whose units return random outputs
(or fail) and compares the dataset's final images with the literal reference
implementation of the spec used in `test_apply_property`.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.domain.task import Task
from fractal_core.domain.workflow_task import WorkflowTask
from fractal_core.engine.errors import DuplicateZarrUrlError
from fractal_core.engine.errors import JobExecutionError
from fractal_core.engine.errors import MissingImageError
from fractal_core.engine.errors import NewImageOutsideZarrDirError
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.runner import run_workflow
from fractal_core.executors.inline import InlineExecutor

from .harness import DatasetStub
from .test_apply_property import ZARR_DIR
from .test_apply_property import RefError
from .test_apply_property import reference
from .test_apply_property import stored_images
from .test_apply_property import type_dicts
from .test_apply_property import unit_output

OUTPUT_TYPES = {"t9": True}


def _parallel_task(output_types: dict[str, bool]) -> Task:
    return Task(
        name="random-parallel",
        type="parallel",
        command_parallel="random-parallel",
        output_types=output_types,
        version="1",
    )


def test_inline_converter_then_parallel(tmp_path: Path) -> None:
    def convert(*, zarr_dir: str, n: int) -> dict:
        return {
            "image_list_updates": [
                {"zarr_url": f"{zarr_dir}/img{i}", "attributes": {"i": i}}
                for i in range(n)
            ]
        }

    def double(*, zarr_url: str, factor: int) -> dict:
        return {
            "image_list_updates": [
                {
                    "zarr_url": f"{zarr_url}_x",
                    "origin": zarr_url,
                    "attributes": {"f": factor},
                }
            ]
        }

    executor = InlineExecutor({"convert": convert, "double": double})
    steps = [
        WorkflowTask(
            task=Task(
                name="convert",
                type="converter_non_parallel",
                command_non_parallel="convert",
            ),
            order=0,
            args_non_parallel={"n": 2},
        ),
        WorkflowTask(
            task=Task(name="double", type="parallel", command_parallel="double"),
            order=1,
            args_parallel={"factor": 3},
        ),
    ]
    dataset = DatasetStub(zarr_dir="/z")
    run_workflow(
        wf_task_list=steps,
        dataset=dataset,
        executor=executor,
        workflow_dir_local=tmp_path,
    )
    assert dataset.images.to_list() == [
        {"zarr_url": "/z/img0", "origin": None, "attributes": {"i": 0}, "types": {}},
        {"zarr_url": "/z/img1", "origin": None, "attributes": {"i": 1}, "types": {}},
        {
            "zarr_url": "/z/img0_x",
            "origin": "/z/img0",
            "attributes": {"i": 0, "f": 3},
            "types": {},
        },
        {
            "zarr_url": "/z/img1_x",
            "origin": "/z/img1",
            "attributes": {"i": 1, "f": 3},
            "types": {},
        },
    ]


ERRORS = {
    DuplicateZarrUrlError: "duplicate",
    NewImageOutsideZarrDirError: "outside",
    MissingImageError: "missing",
}


@settings(max_examples=60, deadline=None)
@given(
    images=stored_images(),
    outputs=st.lists(st.one_of(unit_output(), st.just("FAIL")), min_size=4, max_size=4),
    output_types=type_dicts,
)
def test_parallel_task_end_to_end_equals_reference(
    images: list[dict[str, Any]],
    outputs: list[Any],
    output_types: dict[str, bool],
) -> None:
    if not images:
        return
    per_url = dict(zip([img["zarr_url"] for img in images], outputs, strict=False))

    def task_function(*, zarr_url: str) -> Any:
        value = per_url[zarr_url]
        if value == "FAIL":
            raise RuntimeError("unit failed on purpose")
        return value

    executor = InlineExecutor({"random-parallel": task_function})
    dataset = DatasetStub(zarr_dir=ZARR_DIR, images=copy.deepcopy(images))
    step = WorkflowTask(task=_parallel_task(output_types), order=0)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run_workflow(
                wf_task_list=[step],
                dataset=dataset,
                executor=executor,
                workflow_dir_local=Path(tmp),
                recorder=InMemoryRecorder(),
            )
            error = None
        except JobExecutionError as exc:
            error = exc
    got = (
        dataset.images if isinstance(dataset.images, list) else dataset.images.to_list()
    )

    successful = [out for out in per_url.values() if out != "FAIL"]
    urls = list(per_url)
    try:
        expected = reference(images, successful, urls, output_types)
        expected_error = None
    except RefError as exc:
        expected, expected_error = images, exc.kind
    if expected_error is not None:
        assert type(error) in ERRORS and ERRORS[type(error)] == expected_error
        assert got == images  # unchanged
    else:
        assert got == expected
        any_failed = len(successful) < len(per_url)
        assert (error is not None) == any_failed


@settings(max_examples=40, deadline=None)
@given(
    n_images=st.integers(1, 3),
    repeat=st.integers(0, 2),
    init_fails=st.booleans(),
    failing=st.sets(st.integers(0, 5), max_size=2),
    converter=st.booleans(),
)
def test_compound_units_always_end_done_or_failed(
    n_images: int, repeat: int, init_fails: bool, failing: set[int], converter: bool
) -> None:
    urls = [f"{ZARR_DIR}/img{i}" for i in range(n_images)]

    def init(*, zarr_dir: str, zarr_urls: list[str] | None = None) -> dict:
        if init_fails:
            raise RuntimeError("init failed")
        items = [
            {"zarr_url": url, "init_args": {"ind": i * 10 + r}}
            for i, url in enumerate(urls)
            for r in range(repeat)
        ]
        return {"parallelization_list": items}

    def compute(*, zarr_url: str, init_args: dict) -> None:
        if init_args["ind"] % 10 in failing or init_args["ind"] // 10 in failing:
            raise RuntimeError("compute failed")

    task = Task(
        name="c",
        type="converter_compound" if converter else "compound",
        command_non_parallel="init",
        command_parallel="compute",
        output_types={"done": True},
    )
    dataset = DatasetStub(zarr_dir=ZARR_DIR, images=[{"zarr_url": u} for u in urls])
    recorder = InMemoryRecorder()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run_workflow(
                wf_task_list=[WorkflowTask(task=task, order=0)],
                dataset=dataset,
                executor=InlineExecutor({"init": init, "compute": compute}),
                workflow_dir_local=Path(tmp),
                recorder=recorder,
            )
            failed = False
        except JobExecutionError:
            failed = True
    (run,) = recorder.runs.values()
    units = recorder.units_of(run.id)
    statuses = {u.status for u in units}
    assert "submitted" not in statuses
    assert len(statuses) == 1  # all-or-nothing for compound tasks
    assert run.status == ("failed" if failed else "done")
    assert (statuses == {"failed"}) == failed
    n_items = 0 if init_fails else n_images * repeat
    assert len(units) == 1 + n_items
    touched = all(img["types"].get("done") for img in dataset.images)
    inds = [i * 10 + r for i in range(n_images) for r in range(repeat)]
    any_success = any(i % 10 not in failing and i // 10 not in failing for i in inds)
    # null outputs: if any unit produced an output (or the list was empty),
    # every selected input image is touched, even when other units failed
    expected_touched = not init_fails and not converter and (not inds or any_success)
    assert touched == expected_touched
