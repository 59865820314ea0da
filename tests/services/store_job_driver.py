"""Submit a stored job from a process of its own (crash and race tests).

Usage: `python store_job_driver.py CONFIG.json`. CONFIG names the SQLite
file, the project/workflow/dataset ids, the jobs folder, a mode and a result
file:
- `run`: submit and wait for the job (the test kills this process);
- `race`: wait until the `go` file exists, submit, write "accepted <job id>"
  or "refused <error class>" to the result file; an accepted job keeps
  running until the `release` file exists, then is cancelled.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fractal_core import services as sv
from fractal_core.executors.local import LocalExecutor
from fractal_core.repository.sql import SQLStore


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    store = SQLStore(config["db"])
    result = Path(config["result"])
    with LocalExecutor(max_workers=4, cancel_grace=1.0) as executor:
        if config["mode"] == "race":
            go = Path(config["go"])
            while not go.exists():
                time.sleep(0.005)
        try:
            handle = sv.submit_job(
                store,
                config["project_id"],
                config["workflow_id"],
                config["dataset_id"],
                executor=executor,
                jobs_dir=config["jobs_dir"],
            )
        except sv.ServiceError as error:
            result.write_text(f"refused {type(error).__name__}")
            return 0
        result.write_text(f"accepted {handle.id}")
        if config["mode"] == "race":
            release = Path(config["release"])
            while not release.exists() and not handle.done():
                time.sleep(0.05)
            handle.cancel("race test over")
        handle.wait()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
