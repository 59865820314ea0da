"""Threads of one process sharing SQLite stores: concurrent submissions on one
dataset (through one store object and through two on the same file) give
exactly one job, readers never fail meanwhile, and a stop request from any
thread or store object ends the job `failed` with its reason."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fractal_core import services as sv
from fractal_core.domain.job import JobStatus
from fractal_core.engine.handle import JobHandle
from fractal_core.executors.local import LocalExecutor
from fractal_core.repository.sql import SQLStore
from tests.engine.testkit import InstalledTestkit
from tests.services.test_job_processes import HANG_GUARD
from tests.services.test_job_processes import _stored_workflow

THREADS = 6


def _in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together; results or exceptions."""
    barrier = threading.Barrier(count, timeout=HANG_GUARD)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001 (collected for the asserts)
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD)
        assert not thread.is_alive(), f"a thread hung:\n{_stacks()}"
    return results


def _stacks() -> str:
    """Every thread's stack (what a hung thread waits for)."""
    frames = sys._current_frames()
    return "\n".join(
        f"--- {t.name}\n" + "".join(traceback.format_stack(frames[t.ident]))
        for t in threading.enumerate()
        if t.ident in frames
    )


def test_threads_on_two_store_objects_submit_once_read_and_stop(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    db = tmp_path / "fractal.sqlite"
    config = _stored_workflow(db, testkit, tmp_path)
    ids = (config["project_id"], config["workflow_id"], config["dataset_id"])
    stores = [SQLStore(db), SQLStore(db)]
    try:
        with LocalExecutor(cancel_grace=1.0) as executor:

            def submit(i: int) -> JobHandle:
                return sv.submit_job(
                    stores[i % 2],
                    *ids,
                    executor=executor,
                    jobs_dir=config["jobs_dir"],
                    stop_poll_interval=0.05,
                )

            results = _in_threads(THREADS, submit)
            handles = [r for r in results if isinstance(r, JobHandle)]
            refused = [r for r in results if not isinstance(r, JobHandle)]
            assert len(handles) == 1, results
            assert all(isinstance(r, sv.DatasetBusyError) for r in refused), refused
            (handle,) = handles

            def read_or_stop(i: int) -> Any:
                store = stores[i % 2]
                if i == 0:  # through the store object that did not submit, at once
                    other = stores[1 - handles_store_index(results)]
                    return sv.request_stop(
                        other, ids[0], handle.id, reason="probe stop"
                    )
                for _ in range(20):
                    sv.list_jobs(store, project_id=ids[0])
                    sv.get_job(store, ids[0], handle.id, show_tmp_logs=True)
                    sv.query_images(store, ids[0], ids[2])
                    sv.job_progress(store, ids[0], handle.id)
                return "read"

            outcomes = _in_threads(THREADS, read_or_stop)
            assert outcomes[0] in ("cancelled", "requested"), outcomes[0]
            assert outcomes[1:] == ["read"] * (THREADS - 1), outcomes
            assert handle.result(HANG_GUARD).status == JobStatus.FAILED
        for store in stores:
            (job,) = sv.list_jobs(store, project_id=ids[0])
            assert job.status == JobStatus.FAILED
            assert "probe stop" in (job.log or "")
    finally:
        for store in stores:
            store.close()


def handles_store_index(results: list[Any]) -> int:
    """Which of the two stores (by thread parity) accepted the job."""
    return next(i % 2 for i, r in enumerate(results) if isinstance(r, JobHandle))


def test_threads_submitting_on_their_own_datasets_all_run_to_the_end(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    db = tmp_path / "fractal.sqlite"
    config = _stored_workflow(db, testkit, tmp_path)
    project_id, workflow_id = config["project_id"], config["workflow_id"]
    stores = [SQLStore(db), SQLStore(db)]
    datasets = [config["dataset_id"]] + [
        sv.create_dataset(
            stores[0], project_id, f"ds{i}", zarr_dir=str(tmp_path / f"zarr{i}")
        ).id
        for i in range(1, THREADS)
    ]
    try:
        with LocalExecutor() as executor:

            def submit_and_wait(i: int) -> Any:
                handle = sv.submit_job(
                    stores[i % 2],
                    project_id,
                    workflow_id,
                    datasets[i],
                    {"last_task_index": 0},
                    executor=executor,
                    jobs_dir=config["jobs_dir"],
                )
                return handle.id, handle.result(HANG_GUARD).status

            results = _in_threads(THREADS, submit_and_wait)
        assert all(isinstance(r, tuple) for r in results), results
        assert len({job_id for job_id, _ in results}) == THREADS
        assert {status for _, status in results} == {JobStatus.DONE}
        jobs = sv.list_jobs(stores[1], project_id=project_id)
        assert sorted(j.dataset_id for j in jobs) == sorted(datasets)
        assert {j.status for j in jobs} == {JobStatus.DONE}
        for i, dataset_id in enumerate(datasets):
            page = sv.query_images(stores[i % 2], project_id, dataset_id)
            assert page.total_count == 2  # create_images made its two images
    finally:
        for store in stores:
            store.close()


def test_a_second_store_object_on_the_same_file_finds_the_running_handle(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """The registry knows a job by its database, not by the store object."""
    db = tmp_path / "fractal.sqlite"
    config = _stored_workflow(db, testkit, tmp_path)
    ids = (config["project_id"], config["workflow_id"], config["dataset_id"])
    first, second = SQLStore(db), SQLStore(db)
    try:
        with LocalExecutor(cancel_grace=1.0) as executor:
            handle = sv.submit_job(
                first, *ids, executor=executor, jobs_dir=config["jobs_dir"]
            )
            # at once, before the job's thread made its folder: still found
            assert sv.request_stop(second, ids[0], handle.id, reason="other") == (
                "cancelled"
            )
            assert handle.result(HANG_GUARD).status == JobStatus.FAILED
        (job,) = sv.list_jobs(second, project_id=ids[0])
        assert "other" in (job.log or "")
    finally:
        first.close()
        second.close()


def test_stop_from_elsewhere_waits_for_a_new_jobs_folder(tmp_path: Path) -> None:
    """Another process asking right after submission finds the folder moments
    later; a folder that never comes is reported after the wait."""
    from fractal_core.services.jobs import _folder_appears

    later = tmp_path / "job"
    timer = threading.Timer(0.3, later.mkdir)
    timer.start()
    try:
        assert _folder_appears(later, HANG_GUARD)
    finally:
        timer.cancel()
    assert not _folder_appears(tmp_path / "never", 0.2)
