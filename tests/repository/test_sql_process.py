"""Several processes on one database: racing job submissions, a crash mid-job.

Each scenario runs real Python processes (`sys.executable -c ...`) against a
real SQLite file or the private PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import Job
from fractal_core.domain.job import JobStatus
from fractal_core.domain.project import Project
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.repository.sql import SQLStore
from tests.engine.process_tools import processes_with_marker

HANG_GUARD = 120.0
ROUNDS = 8

SUBMITTER = """
import json, sys, time
from pathlib import Path
from fractal_core.domain.job import Job
from fractal_core.repository.base import ConflictError
from fractal_core.repository.sql import SQLStore

url, dataset_ids, ready, go, name = sys.argv[1:6]
store = SQLStore(url)
results = {}
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
for dataset_id in json.loads(dataset_ids):
    try:
        with store.unit_of_work() as uow:
            # As a service would: read the dataset first, then submit.
            uow.datasets.get(dataset_id, with_images=False)
            job = uow.jobs.add(Job(dataset_id=dataset_id, first_task_index=0,
                                   last_task_index=0, user_email=name))
            uow.commit()
        results[dataset_id] = ["accepted", job.id]
    except ConflictError as error:
        results[dataset_id] = ["refused", str(error)]
print(json.dumps(results))
"""


def _datasets(store: SQLStore, count: int) -> list[int]:
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="race"))
        ids = [
            uow.datasets.add(
                Dataset(name=f"ds{i}", project_id=project.id, zarr_dir="/z")
            ).id
            for i in range(count)
        ]
        uow.commit()
    return [i for i in ids if i is not None]


def _race(url: str, tmp_path: Path) -> None:
    store = SQLStore(url)
    dataset_ids = _datasets(store, ROUNDS)
    go = tmp_path / "go"
    procs = []
    for name in ("first", "second"):
        ready = tmp_path / f"ready-{name}"
        argv = [sys.executable, "-c", SUBMITTER, url, json.dumps(dataset_ids)]
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [*argv, str(ready), str(go), name],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    deadline = time.monotonic() + HANG_GUARD
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "submitters never became ready"
        time.sleep(0.01)
    go.touch()
    outputs = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=HANG_GUARD)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    for dataset_id in dataset_ids:
        verdicts = [output[str(dataset_id)][0] for output in outputs]
        assert sorted(verdicts) == ["accepted", "refused"], (dataset_id, outputs)
        refusal = next(
            o[str(dataset_id)][1] for o in outputs if o[str(dataset_id)][0] == "refused"
        )
        assert f"Dataset {dataset_id}" in refusal
    with store.unit_of_work() as uow:
        for dataset_id in dataset_ids:
            submitted = uow.jobs.list(dataset_id=dataset_id, status=JobStatus.SUBMITTED)
            assert len(submitted) == 1
    store.close()


def test_two_processes_racing_on_sqlite_one_job_wins(
    sqlite_url: str, tmp_path: Path
) -> None:
    _race(sqlite_url, tmp_path)


def test_two_processes_racing_on_postgres_one_job_wins(
    postgres_url: str, tmp_path: Path
) -> None:
    _race(postgres_url, tmp_path)


# --- a job killed in its second task ---------------------------------------------

DRIVER = """
import json, sys
from pathlib import Path
from fractal_core.domain.task import Task
from fractal_core.domain.workflow import Workflow
from fractal_core.engine import run_job
from fractal_core.executors.local import LocalExecutor
from fractal_core.repository.sql import SQLStore

config = json.loads(Path(sys.argv[1]).read_text())
store = SQLStore(config["url"])
with store.unit_of_work() as uow:
    dataset = uow.datasets.get(config["dataset_id"])
wf = Workflow(name="driven")
wf.append_task(
    Task(name="create_images", type="converter_non_parallel",
         command_non_parallel=config["create_command"]),
    args_non_parallel={"num_images": 2}, validate_args=False)
wf.append_task(
    Task(name="mark_image", type="parallel", command_parallel=config["mark_command"],
         input_types={"marked": False}, output_types={"marked": True}),
    args_parallel={"sleep_time": 300}, validate_args=False)
with LocalExecutor(max_workers=4, cancel_grace=1.0) as ex:
    run_job(workflow=wf, dataset=dataset, executor=ex,
            working_dir=Path(config["working_dir"]), recorder=store.recorder(),
            job_id=config["job_id"], zip_job_folder=False)
"""


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_sigkill_during_the_second_task_keeps_the_first_tasks_state(
    testkit: Any, tmp_path: Path
) -> None:
    url = str(tmp_path / "crash.db")
    store = SQLStore(url)
    zarr_dir = str(tmp_path / "zarr")
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="crash"))
        dataset = uow.datasets.add(
            Dataset(name="ds", project_id=project.id, zarr_dir=zarr_dir)
        )
        job = uow.jobs.add(
            Job(
                project_id=project.id,
                dataset_id=dataset.id,
                first_task_index=0,
                last_task_index=1,
            )
        )
        uow.commit()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "url": url,
                "dataset_id": dataset.id,
                "job_id": job.id,
                "create_command": testkit.commands("create_images")[0],
                "mark_command": testkit.commands("mark_image")[1],
                "working_dir": str(tmp_path / "job"),
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(config)], start_new_session=True
    )
    recorder = store.recorder()
    try:

        def second_task_running() -> bool:
            runs = recorder.runs_of(dataset.id, "position-1")
            return bool(runs) and bool(recorder.units_of(runs[0].id))

        _wait(second_task_running, "the second task's units")
        time.sleep(0.5)  # let the units start; nothing below depends on it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(HANG_GUARD)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        # The units run in sessions of their own and outlive the killed job.
        for pid in processes_with_marker(str(tmp_path / "job"), settle=0):
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    store.close()

    reopened = SQLStore(url)  # a later process: everything is read back
    history = reopened.recorder()
    with reopened.unit_of_work() as uow:
        images = uow.datasets.images(dataset.id).to_list()  # type: ignore[arg-type]
        stored_job = uow.jobs.get(job.id)  # type: ignore[arg-type]
    assert len(images) == 2
    assert all(image["zarr_url"].startswith(zarr_dir + "/") for image in images)
    assert all(not image["types"].get("marked", False) for image in images)
    (first_run,) = history.runs_of(dataset.id, "position-0")
    assert first_run.status == HistoryStatus.DONE
    assert first_run.num_new_images == 2
    assert {u.status for u in history.units_of(first_run.id)} == {HistoryStatus.DONE}
    (second_run,) = history.runs_of(dataset.id, "position-1")
    assert second_run.status == HistoryStatus.SUBMITTED
    assert second_run.num_tasks is None  # never applied
    units = history.units_of(second_run.id)
    assert len(units) == 2
    assert {u.status for u in units} == {HistoryStatus.SUBMITTED}
    statuses = history.image_status(
        dataset.id, "position-1", [image["zarr_url"] for image in images]
    )
    assert set(statuses.values()) == {"submitted"}
    assert stored_job.status == JobStatus.SUBMITTED  # recovery is another step
    assert history.job(job.id).status == JobStatus.SUBMITTED
    reopened.close()
