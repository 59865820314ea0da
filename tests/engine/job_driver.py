"""Run one testkit job in a process of its own, for crash and Ctrl-C tests.

Usage: `python job_driver.py CONFIG.json`. CONFIG holds the task commands,
the job and zarr folders, and where to write the outcome. The outcome file is
written from a `finally`, so a test can read what the job recorded after a
Ctrl-C; after a SIGKILL there is none, which is the point of those tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fractal_core.domain.task import Task
from fractal_core.domain.workflow import Workflow
from fractal_core.engine import InMemoryRecorder
from fractal_core.engine import run_job
from fractal_core.engine import submit_job
from fractal_core.executors.local import LocalExecutor


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    wf = Workflow(name="driven")
    create = Task(
        name="create_images",
        type="converter_non_parallel",
        command_non_parallel=config["create_command"],
    )
    mark = Task(
        name="mark_image",
        type="parallel",
        command_parallel=config["mark_command"],
        input_types={"marked": False},
        output_types={"marked": True},
    )
    wf.append_task(create, args_non_parallel={"num_images": 2}, validate_args=False)
    wf.append_task(mark, args_parallel={"sleep_time": 300}, validate_args=False)

    class Dataset:
        id = 1
        zarr_dir = config["zarr_dir"]
        images: list = []

    recorder = InMemoryRecorder()
    outcome_file = Path(config["outcome_file"])
    job_args: dict[str, Any] = {
        "workflow": wf,
        "dataset": Dataset(),
        "working_dir": Path(config["working_dir"]),
        "recorder": recorder,
        "job_id": 7,
        "zip_job_folder": False,
    }
    try:
        with LocalExecutor(max_workers=4, cancel_grace=1.0) as ex:
            if config.get("background"):  # submit_job, then wait on the handle
                submit_job(executor=ex, **job_args).wait()
            else:
                run_job(executor=ex, **job_args)
    finally:
        job = recorder.jobs.get(7)
        outcome_file.write_text(
            json.dumps({"status": job.status.value, "log": job.log} if job else {})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
