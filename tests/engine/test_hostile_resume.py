"""`resume_plan` / `resume_task` against bad input: statuses as one string,
None or unknown values, tasks of the wrong type or out of range, filters of the
wrong shape. Each is the library's exception naming the argument and value,
raised before a job folder exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fractal_core.domain.dataset import Dataset
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.resume import ResumeError
from fractal_core.engine.resume import resume_plan
from fractal_core.engine.resume import resume_task
from fractal_core.errors import FilterError
from fractal_core.executors.local import LocalExecutor

from .test_resume import copy_workflow
from .testkit import InstalledTestkit


def _dataset(tmp_path: Path) -> Dataset:
    zarr = tmp_path / "zarr"
    ds = Dataset(name="d", zarr_dir=str(zarr))
    ds.images.add({"zarr_url": f"{zarr}/x", "types": {"3D": True}})
    return ds


def test_one_status_given_as_a_string_is_that_status(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = copy_workflow(testkit, fail_on=[])
    ds = _dataset(tmp_path)
    plan = resume_plan(wf, ds, 1, recorder=InMemoryRecorder(), statuses="unset")
    assert plan.statuses == ("unset",)  # was ('u', 'n', 's', 'e', 't'): refused
    assert plan.zarr_urls == [f"{tmp_path}/zarr/x"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"statuses": None}, ResumeError, "statuses=None"),
        ({"statuses": [1]}, ResumeError, r"statuses=\['1'\]"),
        ({"statuses": "bogus"}, ResumeError, r"statuses=\['bogus'\]"),
        ({"task": 1.0}, ResumeError, "task=1.0"),
        ({"task": 2**70}, ResumeError, f"task={2**70}"),
        ({"task": "no\0such"}, ResumeError, "no task with that name"),
        ({"type_filters": ["3D"]}, FilterError, r"type_filters=\['3D'\]"),
        ({"type_filters": "3D"}, FilterError, "type_filters='3D'"),
        ({"attribute_filters": {"well": "A01"}}, FilterError, r"\['well'\]='A01'"),
        ({"attribute_filters": [("well", ["A"])]}, FilterError, "attribute_filters="),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else "",
)
def test_bad_arguments_name_themselves_and_write_nothing(
    testkit: InstalledTestkit,
    tmp_path: Path,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    wf = copy_workflow(testkit, fail_on=[])
    ds = _dataset(tmp_path)
    args: dict[str, Any] = {"task": 1, "recorder": InMemoryRecorder(), **kwargs}
    task = args.pop("task")
    with pytest.raises(error, match=match):
        resume_plan(wf, ds, task, **args)
    with LocalExecutor(max_workers=1) as ex, pytest.raises(error, match=match):
        resume_task(wf, ds, task, executor=ex, working_dir=tmp_path / "job", **args)
    assert not (tmp_path / "job").exists()
    assert [image["zarr_url"] for image in ds.images] == [f"{tmp_path}/zarr/x"]
