"""Views of real jobs (testkit tasks in subprocesses): outcome, handle, progress."""

from __future__ import annotations

import io
from pathlib import Path

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.workflow import Workflow
from fractal_core.engine.handle import submit_job
from fractal_core.engine.job import JobOutcome
from fractal_core.engine.job import run_job
from fractal_core.executors.local import LocalExecutor
from fractal_core.views import progress
from fractal_core.views import watch
from fractal_core.views.html import job_html
from tests.engine.testkit import InstalledTestkit

from .test_html import parse


def workflow(kit: InstalledTestkit, fail_on: list[str], sleep: float = 0.0) -> Workflow:
    wf = Workflow(name="views")
    wf.append_task(
        kit.task("create_images"),
        validate_args=False,
        args_non_parallel={"num_images": 4},
    )
    wf.append_task(
        kit.task("mark_image"),
        validate_args=False,
        args_parallel={"fail_on": fail_on, "sleep_time": sleep},
    )
    return wf


def failed_run(kit: InstalledTestkit, tmp_path: Path) -> JobOutcome:
    ds = Dataset(name="d", zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor(max_workers=2) as ex:
        return run_job(
            workflow=workflow(kit, ["01/0", "03/0"]),
            dataset=ds,
            executor=ex,
            working_dir=tmp_path / "job",
        )


def test_outcome_repr_and_html_show_statuses_counts_and_failures(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    outcome = failed_run(testkit, tmp_path)
    assert outcome.status.value == "failed"
    assert repr(outcome) == (
        f"<JobOutcome {outcome.job_id} failed: 2 tasks run, 2 failures>"
    )
    html = outcome._repr_html_()
    text = "".join(parse(html).text)
    assert "failed" in text
    # mark_image: 4 units, 2 done, 2 failed; images 2/4 done
    assert "2/4" in text
    assert "done: 2, failed: 2" in text  # per-image statuses from the recorder
    assert "2 failures" in text
    assert text.count("mark_image failed on purpose") >= 2  # message and log excerpt
    assert "<script" not in html


def test_handle_repr_html_and_watch_in_text_mode(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    ds = Dataset(name="d", zarr_dir=str(tmp_path / "zarr"))
    stream = io.StringIO()
    with LocalExecutor(max_workers=2) as ex:
        handle = submit_job(
            workflow=workflow(testkit, [], sleep=0.2),
            dataset=ds,
            executor=ex,
            working_dir=tmp_path / "job",
        )
        outcome = watch(handle, mode="text", stream=stream, timeout=60)
    assert outcome.status.value == "done"
    lines = stream.getvalue().splitlines()
    assert lines[-1] == f"job {handle.id}: done"
    assert "mark_image [done] units 4/4, images 4/4" in lines
    assert "create_images [done] units 1/1, images 0/0" in lines
    # every line about mark_image shows units done never going down
    done = [
        int(line.split("units ")[1].split("/")[0])
        for line in lines
        if line.startswith("mark_image")
    ]
    assert done == sorted(done)
    assert repr(handle) == (
        f"<JobHandle {handle.id} done: create_images 1/1, mark_image 4/4>"
    )
    text = "".join(parse(handle._repr_html_()).text)
    assert "done" in text and "4/4" in text and "1/1" in text
    assert job_html(handle) == handle._repr_html_()


def test_progress_returns_at_once_and_follows_the_job(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    ds = Dataset(name="d", zarr_dir=str(tmp_path / "zarr"))
    stream = io.StringIO()
    with LocalExecutor(max_workers=2) as ex:
        handle = submit_job(
            workflow=workflow(testkit, ["01/0"], sleep=0.2),
            dataset=ds,
            executor=ex,
            working_dir=tmp_path / "job",
        )
        progress(handle, mode="text", stream=stream)
        outcome = handle.result(timeout=60)
    assert outcome.status.value == "failed"
    text = stream.getvalue()
    assert "mark_image [failed] units 3/4 (1 failed), images 3/4" in text
    assert text.rstrip().endswith(f"job {handle.id}: failed")
