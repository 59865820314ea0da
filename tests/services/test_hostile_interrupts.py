"""Ctrl-C and KeyboardInterrupt around `services.submit_job`: the stored job
ends `failed` with a reason that says so, its units are gone and the dataset
takes a new job."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from fractal_core import services as sv
from fractal_core.domain.job import JobStatus
from fractal_core.executors.local import LocalExecutor
from fractal_core.repository.sql import SQLStore
from tests.engine.process_tools import processes_with_marker
from tests.engine.testkit import InstalledTestkit
from tests.services.test_job_processes import HANG_GUARD
from tests.services.test_job_processes import _start
from tests.services.test_job_processes import _stored_workflow


def _wait_for_units(proc: object, jobs_dir: str, count: int) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while len(processes_with_marker(jobs_dir, 0, also="1_mark_image")) < count:
        assert time.monotonic() < deadline, "the units never started"
        assert proc.poll() is None, "the driver ended early"  # type: ignore[attr-defined]
        time.sleep(0.1)


def test_ctrl_c_while_waiting_for_a_stored_job_fails_it_and_frees_the_dataset(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    db = tmp_path / "fractal.sqlite"
    config = {**_stored_workflow(db, testkit, tmp_path), "mode": "run"}
    config["result"] = str(tmp_path / "result.txt")
    proc = _start(config, tmp_path / "config.json")
    jobs_dir = config["jobs_dir"]
    try:
        _wait_for_units(proc, jobs_dir, 2)
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(HANG_GUARD)
    finally:
        proc.kill()
    assert returncode != 0
    assert processes_with_marker(jobs_dir, also="1_mark_image") == []
    store = SQLStore(db)
    (job,) = sv.list_jobs(store, project_id=config["project_id"])
    assert job.status == JobStatus.FAILED, job.log
    assert "cancelled" in (job.log or "")  # the executor's exit cancelled its units
    assert job.end_timestamp is not None
    assert sv.recover_jobs(store) == []  # nothing left for a recovery
    store.close()


class _InterruptingStore:
    """A store whose recorder lookup is hit by Ctrl-C: the job record is
    committed, the engine not yet started (the window a signal can hit)."""

    def __init__(self, store: SQLStore) -> None:
        self._store = store

    def unit_of_work(self):  # type: ignore[no-untyped-def]
        return self._store.unit_of_work()

    def recorder(self):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    def close(self) -> None:
        self._store.close()


def test_ctrl_c_inside_submit_job_fails_the_stored_job_naming_it(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    db = tmp_path / "fractal.sqlite"
    config = _stored_workflow(db, testkit, tmp_path)
    ids = (config["project_id"], config["workflow_id"], config["dataset_id"])
    store = SQLStore(db)
    with LocalExecutor() as executor:
        with pytest.raises(KeyboardInterrupt):
            sv.submit_job(
                _InterruptingStore(store),  # type: ignore[arg-type]
                *ids,
                executor=executor,
                jobs_dir=config["jobs_dir"],
            )
        (job,) = sv.list_jobs(store, project_id=config["project_id"])
        assert job.status == JobStatus.FAILED
        assert "could not start" in (job.log or "")
        assert "KeyboardInterrupt" in (job.log or "")
        assert job.end_timestamp is not None
        # the dataset is free again: the next submission is accepted
        handle = sv.submit_job(
            store,
            *ids,
            {"last_task_index": 0},
            executor=executor,
            jobs_dir=config["jobs_dir"],
        )
        assert handle.result(HANG_GUARD).status == JobStatus.DONE
    store.close()
