"""Jobs that users interrupt, run side by side, rerun, time out or watch."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from fractal_core.domain.task import Task
from fractal_core.domain.workflow import Workflow
from fractal_core.engine import DatasetBusyError
from fractal_core.engine import EngineSettings
from fractal_core.engine import EventKind
from fractal_core.engine import JobRefusedError
from fractal_core.engine import submit_job
from fractal_core.engine.job import run_job
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.errors import FractalCoreError
from fractal_core.executors.local import LocalExecutor
from fractal_core.images import IMAGE_STATUS_KEY

from .harness import DatasetStub
from .harness import build_workflow
from .process_tools import processes_with_marker
from .process_tools import write_hostile_task
from .testkit import InstalledTestkit

HANG_GUARD = 60.0


def _two_step(kit: InstalledTestkit, **mark_args: Any) -> Workflow:
    return build_workflow(
        kit,
        [
            ("create_images", {"args_non_parallel": {"num_images": 3}}),
            ("mark_image", {"args_parallel": mark_args}),
        ],
    )


def test_rerun_of_an_id_less_workflow_reads_its_own_task(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """History keys do not depend on the slice: a builder-made workflow reruns."""
    wf = _two_step(testkit, fail_on=["02/0"])
    assert all(wft.id is None for wft in wf.task_list)
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    recorder = InMemoryRecorder()
    # the failed image stays `marked: False`, so the rerun can select it
    settings = EngineSettings(touch_only_successful_units=True)
    with LocalExecutor(max_workers=2) as ex:
        first = run_job(
            workflow=wf,
            dataset=dataset,
            executor=ex,
            working_dir=tmp_path / "j1",
            recorder=recorder,
            settings=settings,
        )
        assert first.status == "failed"
        statuses = first.image_status(1)
        assert sorted(statuses.values()) == ["done", "done", "failed"]
        wf.task_list[1].args_parallel = {}
        second = run_job(
            workflow=wf,
            dataset=dataset,
            executor=ex,
            working_dir=tmp_path / "j2",
            recorder=recorder,
            first_task_index=1,
            attribute_filters={IMAGE_STATUS_KEY: ["failed"]},
            settings=settings,
        )
    assert second.status == "done", second.log
    rerun = recorder.runs_of(1, second.key_of(1))[-1]
    assert rerun.num_available_images == 1  # type filters: only `marked: False`
    assert [len(u.zarr_urls) for u in recorder.units_of(rerun.id)] == [1]
    assert set(second.image_status(wf.task_list[1]).values()) == {"done"}
    assert second.task_status(1)["num_done_images"] == 3


def _run_in_thread(results: dict[str, Any], name: str, **kwargs: Any) -> None:
    results[name] = run_job(**kwargs)


def test_three_jobs_in_threads_keep_their_logs_and_images_apart(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf_by_name = {
        name: build_workflow(
            testkit,
            [
                ("create_images", {"args_non_parallel": {"num_images": n}}),
                ("mark_image", {"args_parallel": {"sleep_time": 0.2}}),
            ],
        )
        for name, n in (("a", 1), ("b", 2), ("c", 3))
    }
    for name, wf in wf_by_name.items():
        wf.name = f"workflow-{name}"
    datasets = {
        name: DatasetStub(zarr_dir=str(tmp_path / f"zarr-{name}"), id=i)
        for i, name in enumerate(wf_by_name)
    }
    recorder = InMemoryRecorder()
    results: dict[str, Any] = {}
    with LocalExecutor(max_workers=6) as ex:
        threads = [
            threading.Thread(
                target=_run_in_thread,
                args=(results, name),
                kwargs={
                    "workflow": wf_by_name[name],
                    "dataset": datasets[name],
                    "executor": ex,
                    "working_dir": tmp_path / f"job-{name}",
                    "recorder": recorder,
                    "zip_job_folder": False,
                },
            )
            for name in wf_by_name
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG_GUARD)
    assert sorted(results) == ["a", "b", "c"]
    job_ids = {results[name].job_id for name in results}
    assert len(job_ids) == 3  # default ids are unique
    for name, n in (("a", 1), ("b", 2), ("c", 3)):
        outcome = results[name]
        assert outcome.status == "done", outcome.log
        assert len(outcome.images) == n
        assert all(f"zarr-{name}" in url for url in outcome.images.zarr_urls())
        log = (tmp_path / f"job-{name}" / "workflow.log").read_text()
        assert f'workflow "workflow-{name}"' in log
        others = {"a", "b", "c"} - {name}
        assert not any(f'workflow "workflow-{o}"' in log for o in others)
        assert str(outcome.job_id) in log
        assert recorder.job(outcome.job_id).status == "done"
    # the job loggers are not registered with `logging`: nothing accumulates
    assert not any(key.startswith("WF") for key in logging.Logger.manager.loggerDict)


def test_second_job_on_a_busy_dataset_is_refused(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = _two_step(testkit, sleep_time=2.0)
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor(max_workers=4) as ex:
        handle = submit_job(
            workflow=wf, dataset=dataset, executor=ex, working_dir=tmp_path / "j1"
        )
        with pytest.raises(DatasetBusyError, match="already has a running job"):
            run_job(
                workflow=wf, dataset=dataset, executor=ex, working_dir=tmp_path / "j2"
            )
        assert not (tmp_path / "j2").exists()
        outcome = handle.result(timeout=HANG_GUARD)
        assert outcome.status == "done"
        # once the first ended, the dataset is free again
        again = run_job(
            workflow=wf,
            dataset=dataset,
            executor=ex,
            working_dir=tmp_path / "j3",
            last_task_index=0,
        )
    assert again.status == "done"


def test_cancel_from_another_thread_kills_units_and_keeps_images(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = _two_step(testkit, sleep_time=120.0)
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    events: list[Any] = []
    with LocalExecutor(max_workers=4, cancel_grace=1.0) as ex:
        handle = submit_job(
            workflow=wf,
            dataset=dataset,
            executor=ex,
            working_dir=tmp_path / "job",
            on_event=events.append,
        )
        for event in handle.events(timeout=HANG_GUARD):
            task = event.task
            if task is not None and task.order == 1 and task.units_total == 3:
                break
        assert handle.status == "submitted"
        assert handle.cancel("stop, please")
        assert handle.wait(HANG_GUARD)
    outcome = handle.result()
    assert outcome.status == "failed"
    assert outcome.cancel_reason == "stop, please"
    assert "Job cancelled: stop, please" in outcome.log
    log = (tmp_path / "job" / "workflow.log").read_text()
    assert "cancelled: stop, please" in log
    assert processes_with_marker(str(tmp_path / "job")) == []
    # the images are those after create_images: the cancelled task applied nothing
    assert len(outcome.images) == 3
    assert not any(img["types"].get("marked") for img in outcome.images)
    runs = list(outcome.recorder.runs.values())
    assert [r.status.value for r in runs] == ["done", "failed"]
    assert {u.status.value for u in outcome.recorder.units_of(runs[1].id)} == {"failed"}
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.JOB_STARTED
    assert EventKind.CANCEL_REQUESTED in kinds and kinds[-1] is EventKind.JOB_ENDED
    assert handle.cancel() is False  # already over


def test_job_time_limit(testkit: InstalledTestkit, tmp_path: Path) -> None:
    wf = _two_step(testkit, sleep_time=120.0)
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor(max_workers=4, cancel_grace=1.0) as ex:
        outcome = run_job(
            workflow=wf,
            dataset=dataset,
            executor=ex,
            working_dir=tmp_path / "job",
            timeout=3.0,
        )
    assert outcome.status == "failed"
    assert "time limit of 3.0 seconds" in outcome.log
    assert processes_with_marker(str(tmp_path / "job")) == []


def test_unit_time_limit_from_settings(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = _two_step(testkit, sleep_time=120.0)
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor(max_workers=4, cancel_grace=1.0) as ex:
        outcome = run_job(
            workflow=wf,
            dataset=dataset,
            executor=ex,
            working_dir=tmp_path / "job",
            settings=EngineSettings(unit_timeout_s=2.0),
        )
    assert outcome.status == "failed"
    assert len(outcome.failures) == 3
    assert {f.task_name for f in outcome.failures} == {"mark_image"}
    assert sorted(u for f in outcome.failures for u in f.zarr_urls) == sorted(
        outcome.images.zarr_urls()
    )


def test_bad_filters_are_refused_before_the_job_folder_exists(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    wf = _two_step(testkit)
    dataset = DatasetStub(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor() as ex:
        for bad in ({"w": None}, {"w": [float("nan")]}, {"w": "x"}):
            with pytest.raises(FractalCoreError, match="w"):
                run_job(
                    workflow=wf,
                    dataset=dataset,
                    executor=ex,
                    working_dir=tmp_path / "job",
                    attribute_filters=bad,
                )
    assert not (tmp_path / "job").exists()


def test_tasks_of_an_inactive_group_are_refused_before_anything_runs(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    from fractal_core.domain.task_group import TaskGroup

    task = testkit.task("create_images")
    group = TaskGroup(
        origin="other",
        pkg_name="fractal-tasks-testkit",
        version="0.1.0",
        task_list=[task],
        active=False,
    )
    wf = Workflow(name="wf")
    wf.append_task(group.task_list[0], validate_args=False)
    with LocalExecutor() as ex, pytest.raises(JobRefusedError, match="inactive"):
        run_job(
            workflow=wf,
            dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
            executor=ex,
            working_dir=tmp_path / "job",
        )
    assert not (tmp_path / "job").exists()


def test_hostile_task_children_are_killed_at_job_end(tmp_path: Path) -> None:
    """A task that leaves a SIGTERM-ignoring grandchild behind, in a new session."""
    marker = f"hostile-{tmp_path.name}"
    command = write_hostile_task(tmp_path / "my tasks", marker)
    task = Task(
        name="hostile", type="converter_non_parallel", command_non_parallel=command
    )
    wf = Workflow(name="wf")
    wf.append_task(task, validate_args=False)
    with LocalExecutor() as ex:
        outcome = run_job(
            workflow=wf,
            dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
            executor=ex,
            working_dir=tmp_path / "job",
        )
    assert outcome.status == "done", outcome.log
    assert processes_with_marker(marker) == []


def test_log_lines_name_the_group_and_progress_reaches_info(
    testkit: InstalledTestkit, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No `package_of` needed: a task knows its group; INFO sees each task."""
    from fractal_core.domain.task_group import TaskGroup

    group = TaskGroup(
        origin="other",
        pkg_name="fractal-tasks-testkit",
        version="0.1.0",
        task_list=[testkit.task("create_images"), testkit.task("mark_image")],
    )
    wf = Workflow(name="wf")
    wf.append_task(group.task_list[0], args_non_parallel={"num_images": 1})
    wf.append_task(group.task_list[1])
    caplog.set_level(logging.INFO, logger="fractal_core")
    with LocalExecutor() as ex:
        outcome = run_job(
            workflow=wf,
            dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
            executor=ex,
            working_dir=tmp_path / "job",
        )
    assert outcome.status == "done"
    log = (tmp_path / "job" / "workflow.log").read_text()
    assert "('mark_image', fractal-tasks-testkit 0.1.0)" in log
    progress = [
        r.getMessage() for r in caplog.records if r.name == "fractal_core.engine.job"
    ]
    assert any("mark_image" in m and "started" in m for m in progress)
    assert any("mark_image" in m and "done" in m for m in progress)
    assert not any(r.levelno < logging.INFO for r in caplog.records)
