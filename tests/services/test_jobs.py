"""Job submission, reads and stop (services.md §10), after the reference's
`test_api_job.py` (`test_submit_job_failures`, `test_project_apply_workflow_subset`,
`test_submit_jobs_with_same_dataset`, `test_project_apply_slurm_account`,
`test_get_jobs`, `test_get_latest_jobs`, `test_stop_job`,
`test_update_timestamp_taskgroup`), run for real with the testkit package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from fractal_core import services as sv
from fractal_core.domain.job import JobStatus
from fractal_core.domain.task_group import TaskGroup
from fractal_core.executors.local import LocalExecutor
from fractal_core.repository.base import Store
from tests.engine.testkit import InstalledTestkit

from .support import add_job

WAIT_S = 120.0


@dataclass
class Setup:
    project_id: int
    workflow_id: int
    dataset_id: int
    group: TaskGroup
    zarr_dir: str
    jobs_dir: Path


def _setup(store: Store, testkit: InstalledTestkit, tmp_path: Path) -> Setup:
    """Testkit tasks in a stored group; workflow create_images -> mark_image."""
    with store.unit_of_work() as uow:
        group = uow.task_groups.add(
            TaskGroup(
                origin="other",
                pkg_name="fractal-tasks-testkit",
                version=testkit.version,
                task_list=[testkit.task("create_images"), testkit.task("mark_image")],
            )
        )
        uow.commit()
    ids = {t.name: t.id for t in group.task_list}
    project = sv.create_project(store, "proj")
    assert project.id is not None
    zarr_dir = str(tmp_path / "zarr")
    ds = sv.create_dataset(store, project.id, "ds", zarr_dir=zarr_dir)
    wf = sv.create_workflow(store, project.id, "wf")
    assert ds.id is not None and wf.id is not None
    sv.create_workflow_task(
        store,
        project.id,
        wf.id,
        ids["create_images"],
        args_non_parallel={"num_images": 2},
    )
    sv.create_workflow_task(store, project.id, wf.id, ids["mark_image"])
    return Setup(project.id, wf.id, ds.id, group, zarr_dir, tmp_path / "jobs")


def test_submit_and_store_outcome(
    store: Store, testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """The job record (dumps, slice, folder), the run, and the stored end state."""
    s = _setup(store, testkit, tmp_path)
    with LocalExecutor() as executor:
        handle = sv.submit_job(
            store,
            s.project_id,
            s.workflow_id,
            s.dataset_id,
            {"attribute_filters": {}},
            executor=executor,
            jobs_dir=s.jobs_dir,
            user_email="me@example.org",
            slurm_accounts=["acc1", "acc2"],
        )
        assert handle.wait(WAIT_S)
    job_id = handle.id
    assert isinstance(job_id, int)
    job = sv.get_job(store, s.project_id, job_id)
    assert job.status == JobStatus.DONE, job.log
    assert job.end_timestamp is not None and "END workflow" in (job.log or "")
    assert (job.first_task_index, job.last_task_index) == (0, 1)
    assert job.user_email == "me@example.org" and job.slurm_account == "acc1"
    assert job.project_dump["name"] == "proj"
    assert job.dataset_dump["zarr_dir"] == s.zarr_dir
    assert job.workflow_dump["id"] == s.workflow_id
    assert job.working_dir is not None
    assert Path(job.working_dir).parent.parent == s.jobs_dir
    assert Path(job.working_dir).name.startswith("proj_v2_")
    page = sv.query_images(store, s.project_id, s.dataset_id)
    assert page.total_count == 2
    assert [i["types"] for i in page.items] == [{"3D": True, "marked": True}] * 2
    with store.unit_of_work() as uow:
        group = uow.task_groups.get(s.group.id)  # type: ignore[arg-type]
    assert group.timestamp_last_used == job.start_timestamp
    latest = sv.latest_job(store, s.project_id, s.workflow_id, s.dataset_id)
    assert latest.id == job_id
    assert [j.log for j in sv.list_jobs(store, project_id=s.project_id, log=False)] == [
        None
    ]


def test_submit_job_failures(
    store: Store, testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """`test_submit_job_failures`, `..._workflow_subset`, `..._same_dataset`,
    `..._slurm_account`: each refusal in order, nothing written."""
    s = _setup(store, testkit, tmp_path)
    other = sv.create_project(store, "other")
    empty = sv.create_workflow(store, s.project_id, "empty")
    assert other.id is not None and empty.id is not None
    ex = LocalExecutor()

    def submit(**kwargs: object) -> object:
        args = {
            "project_id": s.project_id,
            "workflow_id": s.workflow_id,
            "dataset_id": s.dataset_id,
        }
        args.update(kwargs)  # type: ignore[arg-type]
        request = args.pop("request", None)
        return sv.submit_job(
            store,
            args["project_id"],  # type: ignore[arg-type]
            args["workflow_id"],  # type: ignore[arg-type]
            args["dataset_id"],  # type: ignore[arg-type]
            request,  # type: ignore[arg-type]
            executor=ex,
            jobs_dir=s.jobs_dir,
            **{
                k: v
                for k, v in args.items()
                if k not in ("project_id", "workflow_id", "dataset_id")
            },  # type: ignore[arg-type]
        )

    with pytest.raises(ValidationError, match="cannot be larger"):
        submit(request={"first_task_index": 1, "last_task_index": 0})
    with pytest.raises(sv.WrongParentError):
        submit(project_id=other.id)
    with pytest.raises(sv.ResourceMismatchError):
        with store.unit_of_work() as uow:
            p = uow.projects.get(s.project_id)
            uow.projects.update(p.model_copy(update={"resource_id": 1}))
            uow.commit()
        submit(resource_id=2)
    with pytest.raises(sv.EmptyWorkflowError, match="empty task list"):
        submit(workflow_id=empty.id)
    with pytest.raises(sv.InvalidTaskRangeError, match="num_tasks=2"):
        submit(request={"last_task_index": 99})
    with pytest.raises(sv.SlurmAccountError):
        submit(request={"slurm_account": "x"}, slurm_accounts=["y"])
    blocker = add_job(store, project_id=s.project_id, dataset_id=s.dataset_id)
    with pytest.raises(sv.DatasetBusyError, match="already in use") as exc:
        submit()
    assert exc.value.job_ids == [blocker.id]
    with store.unit_of_work() as uow:
        uow.jobs.update(blocker.model_copy(update={"status": JobStatus.FAILED}))
        g = uow.task_groups.get(s.group.id)  # type: ignore[arg-type]
        uow.task_groups.update(g.model_copy(update={"active": False}))
        uow.commit()
    with pytest.raises(sv.InactiveTaskError, match="is not active"):
        submit()
    assert [j.id for j in sv.list_jobs(store)] == [blocker.id]
    assert not s.jobs_dir.exists()


def _long_job(store: Store, s: Setup, executor: LocalExecutor, **kw: object) -> int:
    with store.unit_of_work() as uow:
        wf = uow.workflows.get(s.workflow_id)
    sv.update_workflow_task(
        store,
        s.project_id,
        s.workflow_id,
        wf.task_list[1].id,  # type: ignore[arg-type]
        {"args_parallel": {"sleep_time": 60}},
    )
    handle = sv.submit_job(
        store,
        s.project_id,
        s.workflow_id,
        s.dataset_id,
        executor=executor,
        jobs_dir=s.jobs_dir,
        **kw,  # type: ignore[arg-type]
    )
    for event in handle.events(timeout=WAIT_S):
        if event.kind == "task_started" and event.task and event.task.order == 1:
            break
    assert isinstance(handle.id, int)
    return handle.id


def test_stop_job_in_this_process(
    store: Store, testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """`test_stop_job`: a job run here is cancelled through its handle."""
    s = _setup(store, testkit, tmp_path)
    with LocalExecutor() as executor:
        job_id = _long_job(store, s, executor)
        running = sv.get_job(store, s.project_id, job_id, show_tmp_logs=True)
        assert running.status == JobStatus.SUBMITTED
        assert "Start execution" in (running.log or "")
        assert sv.request_stop(store, s.project_id, job_id, reason="too slow") == (
            "cancelled"
        )
        handle = sv.DEFAULT_REGISTRY.get(store, job_id)
        assert handle is None or handle.wait(WAIT_S)
        outcome_job = _wait_finished(store, s.project_id, job_id)
    assert outcome_job.status == JobStatus.FAILED
    assert "too slow" in (outcome_job.log or "")
    with pytest.raises(sv.JobNotRunningError):
        sv.request_stop(store, s.project_id, job_id)
    # images of the last completed task, unmarked
    page = sv.query_images(store, s.project_id, s.dataset_id)
    assert [i["types"] for i in page.items] == [{"3D": True}] * 2


def test_stop_job_from_another_process(
    store: Store, testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """A process without the handle writes the shutdown file; the running
    process notices it and cancels the job."""
    s = _setup(store, testkit, tmp_path)
    mine = sv.JobRegistry()
    with LocalExecutor() as executor:
        job_id = _long_job(store, s, executor, registry=mine, stop_poll_interval=0.05)
        elsewhere = sv.JobRegistry()  # what another process knows: nothing
        answer = sv.request_stop(
            store, s.project_id, job_id, reason="asked elsewhere", registry=elsewhere
        )
        assert answer == "requested"
        job = sv.get_job(store, s.project_id, job_id)
        assert (Path(job.working_dir or "") / sv.SHUTDOWN_FILENAME).is_file()
        handle = mine.get(store, job_id)
        assert handle is None or handle.wait(WAIT_S)
        done = _wait_finished(store, s.project_id, job_id)
    assert done.status == JobStatus.FAILED and "asked elsewhere" in (done.log or "")


def _wait_finished(store: Store, project_id: int, job_id: int):  # type: ignore[no-untyped-def]
    """The stored job once it left `submitted` (the end is written by the
    job's thread right after the handle reports done)."""
    import time

    deadline = time.monotonic() + WAIT_S
    while True:
        job = sv.get_job(store, project_id, job_id)
        if job.status != JobStatus.SUBMITTED or time.monotonic() > deadline:
            return job
        time.sleep(0.05)
