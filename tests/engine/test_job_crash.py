"""A job's process interrupted (Ctrl-C) or killed (SIGKILL): what is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fractal_core.engine import InMemoryRecorder
from fractal_core.engine.liveness import JobFolderState
from fractal_core.engine.liveness import inspect_job_folder
from fractal_core.engine.recovery import find_orphaned_jobs
from fractal_core.engine.recovery import recover_orphaned_job

from .process_tools import processes_with_marker
from .testkit import InstalledTestkit

DRIVER = Path(__file__).with_name("job_driver.py")
HANG_GUARD = 60.0


def _start_driver(
    kit: InstalledTestkit, tmp_path: Path, background: bool = False
) -> subprocess.Popen[bytes]:
    config = {
        "background": background,
        "create_command": kit.commands("create_images")[0],
        "mark_command": kit.commands("mark_image")[1],
        "zarr_dir": str(tmp_path / "zarr"),
        "working_dir": str(tmp_path / "job"),
        "outcome_file": str(tmp_path / "outcome.json"),
    }
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    return subprocess.Popen([sys.executable, str(DRIVER), str(config_file)])


def _wait_for_units(marker: str, count: int) -> list[int]:
    """Wait until `count` mark_image units run (their args files name `marker`)."""
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        found = processes_with_marker(marker, settle=0)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"units of {marker} never started")


@pytest.mark.parametrize("background", [False, True], ids=["run_job", "handle.wait"])
def test_ctrl_c_ends_the_job_failed_and_kills_its_units(
    testkit: InstalledTestkit, tmp_path: Path, background: bool
) -> None:
    proc = _start_driver(testkit, tmp_path, background)
    marker = str(tmp_path / "job" / "1_mark_image")
    try:
        _wait_for_units(marker, 2)
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(HANG_GUARD)
    finally:
        proc.kill()
    assert returncode != 0  # KeyboardInterrupt propagated
    outcome = json.loads((tmp_path / "outcome.json").read_text())
    assert outcome["status"] == "failed"
    assert "Job cancelled: interrupted (KeyboardInterrupt)" in outcome["log"]
    log = (tmp_path / "job" / "workflow.log").read_text()
    assert "cancelled: interrupted (KeyboardInterrupt)" in log
    assert processes_with_marker(marker) == []
    assert inspect_job_folder(tmp_path / "job") is JobFolderState.FINISHED


def test_sigkill_leaves_an_orphan_that_a_new_process_recovers(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    proc = _start_driver(testkit, tmp_path)
    job_dir = tmp_path / "job"
    marker = str(job_dir / "1_mark_image")
    try:
        units = _wait_for_units(marker, 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HANG_GUARD)
    finally:
        proc.kill()
    # the task processes outlived the killed job process
    assert all(Path(f"/proc/{pid}").exists() for pid in units)
    assert inspect_job_folder(job_dir) is JobFolderState.ORPHANED
    assert find_orphaned_jobs(tmp_path) == [job_dir]
    recorder = InMemoryRecorder()
    recovered = recover_orphaned_job(job_dir, recorder=recorder)
    assert recovered is not None and recovered.job_id == "7"
    assert sorted(recovered.killed_pids) == sorted(units)
    assert processes_with_marker(marker) == []
    assert recorder.job("7").status == "failed"
    assert f"pid {proc.pid}" in recorder.job("7").log
    assert "marked failed" in (job_dir / "workflow.log").read_text()
    assert inspect_job_folder(job_dir) is JobFolderState.FINISHED
    assert recover_orphaned_job(job_dir) is None  # only once
    assert (tmp_path / "job.zip").exists()
