"""Stored jobs and real processes: a killed job is recovered from the database,
and two processes racing to submit on one dataset get exactly one job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fractal_core import services as sv
from fractal_core.domain.job import JobStatus
from fractal_core.domain.task_group import TaskGroup
from fractal_core.repository.sql import SQLStore
from tests.engine.process_tools import processes_with_marker
from tests.engine.testkit import InstalledTestkit

DRIVER = Path(__file__).with_name("store_job_driver.py")
HANG_GUARD = 90.0


def _stored_workflow(db: Path, kit: InstalledTestkit, tmp_path: Path) -> dict:
    """create_images (2 images) -> mark_image sleeping 300 s, in a SQLite store."""
    store = SQLStore(db)
    with store.unit_of_work() as uow:
        group = uow.task_groups.add(
            TaskGroup(
                origin="other",
                pkg_name="fractal-tasks-testkit",
                version=kit.version,
                task_list=[kit.task("create_images"), kit.task("mark_image")],
            )
        )
        uow.commit()
    ids = {t.name: t.id for t in group.task_list}
    project = sv.create_project(store, "proj")
    ds = sv.create_dataset(store, project.id, "ds", zarr_dir=str(tmp_path / "zarr"))  # type: ignore[arg-type]
    wf = sv.create_workflow(store, project.id, "wf")  # type: ignore[arg-type]
    sv.create_workflow_task(
        store,
        project.id,
        wf.id,
        ids["create_images"],  # type: ignore[arg-type]
        args_non_parallel={"num_images": 2},
    )
    sv.create_workflow_task(
        store,
        project.id,
        wf.id,
        ids["mark_image"],  # type: ignore[arg-type]
        args_parallel={"sleep_time": 300},
    )
    store.close()
    return {
        "db": str(db),
        "project_id": project.id,
        "workflow_id": wf.id,
        "dataset_id": ds.id,
        "jobs_dir": str(tmp_path / "jobs"),
    }


def _start(config: dict, path: Path) -> subprocess.Popen[bytes]:
    path.write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen([sys.executable, str(DRIVER), str(path)], env=env)


def test_killed_job_is_recovered_from_the_database(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    db = tmp_path / "fractal.sqlite"
    config = {**_stored_workflow(db, testkit, tmp_path), "mode": "run"}
    config["result"] = str(tmp_path / "result.txt")
    proc = _start(config, tmp_path / "config.json")
    try:
        deadline = time.monotonic() + HANG_GUARD
        jobs_dir = config["jobs_dir"]
        while len(processes_with_marker(jobs_dir, 0, also="1_mark_image")) < 2:
            assert time.monotonic() < deadline, "the units never started"
            assert proc.poll() is None, "the driver ended early"
            time.sleep(0.1)
        # another process (this test) reads the running job's progress
        reader = SQLStore(db)
        (running,) = sv.list_jobs(reader, project_id=config["project_id"])
        progress = sv.job_progress(reader, config["project_id"], running.id)  # type: ignore[arg-type]
        reader.close()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HANG_GUARD)
    finally:
        proc.kill()
    assert [(p.name, p.status) for p in progress] == [
        ("create_images", "done"),
        ("mark_image", "submitted"),
    ]
    assert (progress[1].units_total, progress[1].units_done) == (2, 0)
    assert progress[1].images_total == 2
    store = SQLStore(db)  # a new process would open it just like this
    (job,) = sv.list_jobs(store, project_id=config["project_id"])
    assert job.status == JobStatus.SUBMITTED  # nobody could say otherwise
    before = sv.query_images(store, config["project_id"], config["dataset_id"])
    assert before.total_count == 2  # the first task's images, stored at once
    assert not any(img["types"].get("marked") for img in before.items)

    recovered = sv.recover_jobs(store)

    assert [r.job_id for r in recovered] == [job.id]
    assert len(recovered[0].killed_pids) == 2
    assert processes_with_marker(jobs_dir, also="1_mark_image") == []
    job = sv.get_job(store, config["project_id"], job.id)  # type: ignore[arg-type]
    assert job.status == JobStatus.FAILED and job.end_timestamp is not None
    assert f"pid {proc.pid}" in (job.log or "")
    after = sv.query_images(store, config["project_id"], config["dataset_id"])
    assert after.items == before.items
    assert sv.recover_jobs(store) == []  # once only
    store.close()


def test_two_processes_racing_get_exactly_one_job(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    db = tmp_path / "fractal.sqlite"
    base = {**_stored_workflow(db, testkit, tmp_path), "mode": "race"}
    go = tmp_path / "go"
    procs = []
    for name in ("a", "b"):
        config = {
            **base,
            "go": str(go),
            "release": str(tmp_path / "release"),
            "result": str(tmp_path / f"{name}.txt"),
        }
        procs.append(_start(config, tmp_path / f"{name}.json"))
    time.sleep(2.0)  # both imported and waiting (not a correctness condition)
    go.write_text("go")
    outputs = [tmp_path / f"{n}.txt" for n in ("a", "b")]
    deadline = time.monotonic() + HANG_GUARD
    while not all(p.exists() and p.read_text() for p in outputs):
        assert time.monotonic() < deadline, "the drivers never answered"
        time.sleep(0.05)
    # both answered while the accepted job still runs: no sequential win
    (tmp_path / "release").write_text("")
    for proc in procs:
        assert proc.wait(HANG_GUARD) == 0
    results = sorted(p.read_text() for p in outputs)
    assert results[0].startswith("accepted ")
    assert results[1] == "refused DatasetBusyError"
    store = SQLStore(db)
    jobs = sv.list_jobs(store, project_id=base["project_id"])
    assert len(jobs) == 1
    store.close()
