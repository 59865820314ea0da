"""Job lifecycle: folder, workflow.log, status and log text, zip, domain Job."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from fractal_core.domain.job import Job
from fractal_core.domain.workflow import Workflow
from fractal_core.domain.workflow_task import WorkflowTask
from fractal_core.engine.errors import InvalidTaskRange
from fractal_core.engine.job import run_job
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.executors.local import LocalExecutor

from .harness import DatasetStub
from .harness import build_workflow
from .testkit import InstalledTestkit


def _pkg(task: object) -> tuple[str, str]:
    return "fractal-tasks-testkit", "0.1.0"


def test_successful_job(testkit: InstalledTestkit, tmp_path: Path) -> None:
    wf = build_workflow(
        testkit,
        [
            (
                "create_images",
                {"args_non_parallel": {"num_images": 2}, "alias": "make"},
            ),
            ("mark_image", {}),
        ],
    )
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    job = Job(id=5, first_task_index=0, last_task_index=1)
    working_dir = tmp_path / "jobs" / "job5"
    with LocalExecutor() as executor:
        outcome = run_job(
            workflow=wf,
            dataset=dataset,
            executor=executor,
            working_dir=working_dir,
            job=job,
            package_of=_pkg,
        )
    assert outcome.status == "done" and outcome.error is None
    assert job.status == "done" and job.end_timestamp is not None
    assert job.log == outcome.log
    log = outcome.log
    assert 'START workflow "test-workflow"' in log
    assert 'END workflow "test-workflow"' in log
    assert (
        "SUBMIT 0-th task ('make', 'create_images', fractal-tasks-testkit 0.1.0)" in log
    )
    assert "END    1-th task ('mark_image', fractal-tasks-testkit 0.1.0)" in log
    assert outcome.images is not None and len(outcome.images) == 2
    with zipfile.ZipFile(f"{working_dir}.zip") as zf:
        names = set(zf.namelist())
        null_output = zf.read("1_mark_image/par-000000-0000001-metadiff.json")
    assert null_output == b"null"
    assert "workflow.log" in names
    assert "0_create_images/non_par--log.txt" in names
    assert "1_mark_image/par-000000-0000001-log.txt" in names
    assert working_dir.is_dir()  # small zip: the folder is kept
    recorder = outcome.recorder
    assert isinstance(recorder, InMemoryRecorder)
    assert recorder.job(5).status == "done"
    wft_key = recorder.runs[2].workflowtask_id
    assert outcome.image_status(wft_key) == dict.fromkeys(
        outcome.images.zarr_urls(), "done"
    )
    task_status = outcome.task_status(wft_key)
    assert task_status is not None and task_status["num_done_images"] == 2


def test_task_failure_is_a_job_error(testkit: InstalledTestkit, tmp_path: Path) -> None:
    wf = build_workflow(
        testkit,
        [
            ("create_images", {}),
            ("mark_image", {"args_parallel": {"fail_on": ["01/0"]}}),
        ],
    )
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor() as executor:
        outcome = run_job(
            workflow=wf,
            dataset=dataset,
            executor=executor,
            working_dir=tmp_path / "job",
            job_id=3,
        )
    assert outcome.status == "failed"
    assert outcome.log.startswith(
        "JOB ERROR in Fractal job 3:\nTRACEBACK:\nJobExecutionError"
    )
    assert "ValueError: mark_image failed on purpose" in outcome.log
    # images of the successful tasks and units are kept
    assert outcome.images is not None and len(outcome.images) == 2
    wf_log = (tmp_path / "job" / "workflow.log").read_text()
    assert "END    1-th task ('mark_image', None 0.1.0) - ERROR." in wf_log


def test_unexpected_error_is_an_unknown_error(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = Workflow(
        name="wf",
        task_list=[
            WorkflowTask(
                task=testkit.task("project_compound"), type_filters={"3D": False}
            )
        ],
    )
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor() as executor:
        outcome = run_job(
            workflow=wf,
            dataset=dataset,
            executor=executor,
            working_dir=tmp_path / "job",
            job_id=4,
        )
    assert outcome.status == "failed"
    assert outcome.log.startswith("UNKNOWN ERROR in Fractal job 4\nTRACEBACK:\n")
    assert "IncompatibleTypeFiltersError" in outcome.log


def test_existing_job_folder(testkit: InstalledTestkit, tmp_path: Path) -> None:
    wf = build_workflow(testkit, [("converter_write_nothing", {})])
    (tmp_path / "job").mkdir()
    with LocalExecutor() as executor:
        outcome = run_job(
            workflow=wf,
            dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
            executor=executor,
            working_dir=tmp_path / "job",
            job_id=1,
        )
    assert outcome.status == "failed"
    assert "FileExistsError error while creating local job folder" in outcome.log
    assert outcome.recorder.runs == {}  # type: ignore[attr-defined]


def test_invalid_task_range_touches_nothing(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = build_workflow(testkit, [("converter_write_nothing", {})])
    with LocalExecutor() as executor, pytest.raises(InvalidTaskRange):
        run_job(
            workflow=wf,
            dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
            executor=executor,
            working_dir=tmp_path / "job",
            last_task_index=1,
        )
    assert not (tmp_path / "job").exists()


def test_slice_runs_only_selected_tasks(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = build_workflow(
        testkit,
        [("create_images", {}), ("converter_write_nothing", {}), ("mark_image", {})],
    )
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor() as executor:
        outcome = run_job(
            workflow=wf,
            dataset=dataset,
            executor=executor,
            working_dir=tmp_path / "job",
            first_task_index=0,
            last_task_index=1,
            zip_job_folder=False,
        )
    assert outcome.status == "done"
    assert sorted(p.name for p in (tmp_path / "job").iterdir() if p.is_dir()) == [
        "0_create_images",
        "1_converter_write_nothing",
    ]
    assert not Path(f"{tmp_path / 'job'}.zip").exists()


def test_cache_dir_defaults_under_first_project_dir(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = build_workflow(
        testkit,
        [
            (
                "emit_output_converter",
                {"args_non_parallel": {"echo_env": ["FRACTAL_CACHE_DIR"]}},
            )
        ],
    )
    with LocalExecutor() as executor:
        outcome = run_job(
            workflow=wf,
            dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
            executor=executor,
            working_dir=tmp_path / "job",
            project_dirs=[str(tmp_path / "proj"), "/elsewhere"],
            zip_job_folder=False,
        )
    assert outcome.status == "done"
    log = (
        tmp_path / "job" / "0_emit_output_converter" / "non_par--log.txt"
    ).read_text()
    assert f"ENV FRACTAL_CACHE_DIR={tmp_path}/proj/fractal/.fractal_cache" in log
    assert not (tmp_path / "proj").exists()  # exported, not created
