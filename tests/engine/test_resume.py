"""resume_task: rerun one task on the images it failed on, with real task processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.workflow import Workflow
from fractal_core.engine.job import JobOutcome
from fractal_core.engine.job import run_job
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.resume import NothingToResumeError
from fractal_core.engine.resume import ResumeError
from fractal_core.engine.resume import resume_plan
from fractal_core.engine.resume import resume_task
from fractal_core.engine.runner import EngineSettings
from fractal_core.executors.local import LocalExecutor
from fractal_core.images import IMAGE_STATUS_KEY

from .testkit import InstalledTestkit


def urls_of(zarr_dir: Path, n: int = 4) -> list[str]:
    return [f"{zarr_dir}/plate.zarr/A/{i + 1:02d}/0" for i in range(n)]


def update_workflow(
    kit: InstalledTestkit, zarr_dir: Path, fail_for: list[str]
) -> Workflow:
    """create 4 images, then a parallel task that updates each image in place."""
    outputs = {
        url: {"image_list_updates": [{"zarr_url": url, "attributes": {"seen": 1}}]}
        for url in urls_of(zarr_dir)
    }
    wf = Workflow(name="resume")
    wf.append_task(
        kit.task("create_images"),
        validate_args=False,
        args_non_parallel={"num_images": 4},
    )
    wf.append_task(
        kit.task("emit_output_parallel"),
        validate_args=False,
        args_parallel={"outputs": outputs, "fail_for": fail_for},
    )
    return wf


def copy_workflow(kit: InstalledTestkit, fail_on: list[str]) -> Workflow:
    """create 4 images, then a parallel task that makes a copy of each image."""
    wf = Workflow(name="resume-copies")
    wf.append_task(
        kit.task("create_images"),
        validate_args=False,
        args_non_parallel={"num_images": 4},
    )
    wf.append_task(
        kit.task("mark_image"),
        validate_args=False,
        args_parallel={"copy_suffix": "_m", "fail_on": fail_on},
    )
    return wf


def run(
    wf: Workflow, ds: Dataset, recorder: InMemoryRecorder, job_dir: Path
) -> JobOutcome:
    with LocalExecutor(max_workers=2) as ex:
        return run_job(
            workflow=wf, dataset=ds, executor=ex, working_dir=job_dir, recorder=recorder
        )


def resume(wf: Workflow, ds: Dataset, recorder: Any, job_dir: Path, **kw: Any) -> Any:
    with LocalExecutor(max_workers=2) as ex:
        return resume_task(
            wf, ds, 1, recorder=recorder, executor=ex, working_dir=job_dir, **kw
        )


def last_run_units(recorder: InMemoryRecorder, key: Any) -> list[list[str]]:
    run = recorder.runs_of(None, key)[-1]
    return [unit.zarr_urls for unit in recorder.units_of(run.id)]


def test_resume_reruns_only_failed_images_and_ends_as_a_clean_run(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    zarr = tmp_path / "zarr"
    urls = urls_of(zarr)
    ds = Dataset(name="d", zarr_dir=str(zarr))
    recorder = InMemoryRecorder()
    wf = update_workflow(testkit, zarr, fail_for=[urls[1], urls[3]])
    first = run(wf, ds, recorder, tmp_path / "job1")
    assert first.status.value == "failed"
    assert first.image_status(1) == {
        urls[0]: "done",
        urls[1]: "failed",
        urls[2]: "done",
        urls[3]: "failed",
    }
    # the cause is removed; the same workflow task is resumed
    wf.task_list[1].args_parallel = {
        **(wf.task_list[1].args_parallel or {}),
        "fail_for": [],
    }
    plan = resume_plan(wf, ds, 1, recorder=recorder)
    assert plan.zarr_urls == [urls[1], urls[3]]
    assert plan.status_counts == {"done": 2, "failed": 2}
    second = resume(wf, ds, recorder, tmp_path / "job2")
    assert second.status.value == "done", second.log
    # one unit (one subprocess) per failed image, none for the others
    assert last_run_units(recorder, plan.key) == [[urls[1]], [urls[3]]]
    assert second.progress[0].units_total == 2
    assert second.image_status(1) == dict.fromkeys(urls, "done")

    clean_ds = Dataset(name="d", zarr_dir=str(zarr))
    clean_recorder = InMemoryRecorder()
    clean = run(
        update_workflow(testkit, zarr, fail_for=[]),
        clean_ds,
        clean_recorder,
        tmp_path / "clean",
    )
    assert clean.status.value == "done"
    assert ds.images.to_list() == clean_ds.images.to_list()
    assert all(IMAGE_STATUS_KEY not in img["attributes"] for img in ds.images)
    assert clean.image_status(1) == second.image_status(1)
    assert clean.task_status(1)["status"] == second.task_status(1)["status"] == "done"


def test_resume_of_a_task_creating_images_gives_the_clean_run_images(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    zarr = tmp_path / "zarr"
    urls = urls_of(zarr)
    ds = Dataset(name="d", zarr_dir=str(zarr))
    recorder = InMemoryRecorder()
    wf = copy_workflow(testkit, fail_on=["02/0"])
    assert run(wf, ds, recorder, tmp_path / "job1").status.value == "failed"
    assert len(ds.images) == 7
    wf.task_list[1].args_parallel = {"copy_suffix": "_m", "fail_on": []}
    outcome = resume(wf, ds, recorder, tmp_path / "job2")
    assert outcome.status.value == "done", outcome.log
    key = resume_plan(wf, ds, 1, recorder=recorder, statuses=["done"]).key
    assert last_run_units(recorder, key) == [[urls[1]]]

    clean_ds = Dataset(name="d", zarr_dir=str(zarr))
    run(copy_workflow(testkit, []), clean_ds, InMemoryRecorder(), tmp_path / "c")
    # same images; the rerun's new image comes after those of the first attempt
    by_url = sorted(ds.images.to_list(), key=lambda i: i["zarr_url"])
    assert by_url == sorted(clean_ds.images.to_list(), key=lambda i: i["zarr_url"])
    assert ds.images.zarr_urls()[-1] == urls[1] + "_m"


def test_resume_picks_images_never_processed(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    zarr = tmp_path / "zarr"
    ds = Dataset(name="d", zarr_dir=str(zarr))
    recorder = InMemoryRecorder()
    wf = copy_workflow(testkit, fail_on=[])
    assert run(wf, ds, recorder, tmp_path / "job1").status.value == "done"
    with pytest.raises(NothingToResumeError, match="failed or unset"):
        resume(wf, ds, recorder, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()
    extra = f"{zarr}/plate.zarr/B/01/0"
    Path(extra).mkdir(parents=True)
    ds.images.add({"zarr_url": extra, "types": {"3D": True}})
    outcome = resume(wf, ds, recorder, tmp_path / "job2", statuses=["unset"])
    assert outcome.status.value == "done", outcome.log
    key = resume_plan(wf, ds, 1, recorder=recorder).key
    assert last_run_units(recorder, key) == [[extra]]
    assert extra + "_m" in ds.images


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": 5}, "task=5"),
        ({"task": "no such task"}, "no such task"),
        ({"task": 0}, "converter"),
        ({"statuses": ["broken"]}, "broken"),
        ({"statuses": []}, "statuses"),
        ({"recorder": object()}, "recorder=object"),
        ({"attribute_filters": {IMAGE_STATUS_KEY: ["done"]}}, IMAGE_STATUS_KEY),
        ({"first_task_index": 0}, "first_task_index"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(
    testkit: InstalledTestkit, tmp_path: Path, kwargs: dict, match: str
) -> None:
    zarr = tmp_path / "zarr"
    ds = Dataset(name="d", zarr_dir=str(zarr))
    ds.images.add({"zarr_url": f"{zarr}/x", "types": {"3D": True}})
    wf = copy_workflow(testkit, fail_on=[])
    args: dict[str, Any] = {"task": 1, "recorder": InMemoryRecorder(), **kwargs}
    task = args.pop("task")
    with LocalExecutor(max_workers=1) as ex, pytest.raises(ResumeError, match=match):
        resume_task(wf, ds, task, executor=ex, working_dir=tmp_path / "job", **args)
    assert not (tmp_path / "job").exists()


def test_task_by_name_and_by_object(testkit: InstalledTestkit, tmp_path: Path) -> None:
    wf = copy_workflow(testkit, fail_on=[])
    ds = Dataset(name="d", zarr_dir=str(tmp_path))
    recorder = InMemoryRecorder()
    assert resume_plan(wf, ds, "mark_image", recorder=recorder).index == 1
    assert resume_plan(wf, ds, wf.task_list[1], recorder=recorder).index == 1


def in_place_workflow(kit: InstalledTestkit, fail_on: list[str]) -> Workflow:
    """create 4 images, then mark_image in place (returns nothing; marked: F->T)."""
    wf = Workflow(name="resume-in-place")
    wf.append_task(
        kit.task("create_images"),
        validate_args=False,
        args_non_parallel={"num_images": 4},
    )
    wf.append_task(
        kit.task("mark_image"), validate_args=False, args_parallel={"fail_on": fail_on}
    )
    return wf


def test_in_place_task_failed_by_default_rules_gets_a_hint(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """The reference's rule touches every selected image even when units fail.

    The failed images then no longer match `marked: False`; resume says why and
    what to do instead of only "no image with status failed".
    """
    zarr = tmp_path / "zarr"
    urls = urls_of(zarr)
    ds = Dataset(name="d", zarr_dir=str(zarr))
    recorder = InMemoryRecorder()
    wf = in_place_workflow(testkit, fail_on=[urls[2]])
    assert run(wf, ds, recorder, tmp_path / "job1").status.value == "failed"
    assert all(img["types"].get("marked") for img in ds.images)
    with pytest.raises(NothingToResumeError) as info:
        resume(wf, ds, recorder, tmp_path / "job2")
    message = str(info.value)
    assert "1 image(s) recorded as failed" in message and urls[2] in message
    assert "touch_only_successful_units=True" in message
    assert not (tmp_path / "job2").exists()


def test_in_place_task_with_touch_only_successful_units_resumes(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    zarr = tmp_path / "zarr"
    urls = urls_of(zarr)
    ds = Dataset(name="d", zarr_dir=str(zarr))
    recorder = InMemoryRecorder()
    settings = EngineSettings(touch_only_successful_units=True)
    wf = in_place_workflow(testkit, fail_on=[urls[2]])
    with LocalExecutor(max_workers=2) as ex:
        first = run_job(
            workflow=wf,
            dataset=ds,
            executor=ex,
            working_dir=tmp_path / "job1",
            recorder=recorder,
            settings=settings,
        )
    assert first.status.value == "failed"
    marked = {img["zarr_url"]: bool(img["types"].get("marked")) for img in ds.images}
    assert marked == {url: url != urls[2] for url in urls}
    wf.task_list[1].args_parallel = {"fail_on": []}
    second = resume(wf, ds, recorder, tmp_path / "job2", settings=settings)
    assert second.status.value == "done", second.log
    assert second.progress[0].units_total == 1
    assert all(img["types"]["marked"] for img in ds.images)
    assert second.image_status(1) == dict.fromkeys(urls, "done")
