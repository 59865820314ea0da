"""Jobs whose process died: find them, mark them failed, kill what they left.

A job folder says who runs it (`liveness`): after a crash, a kill -9 or a
reboot, a later process finds the folder ORPHANED, kills the task processes
still carrying the job's token, appends the reason to `workflow.log`, writes
the end record, tells the recorder (and a domain `Job`) the job failed, and
zips the folder as a finished job would have been.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from . import liveness as liveness
from .errors import JobExecutionError
from .recorder import JobStatus
from .recorder import Recorder
from .task_files import WORKFLOW_LOG_FILENAME
from .zipping import zip_folder

__all__ = [
    "JOB_RECORD_FILENAME",
    "RecoveredJob",
    "find_orphaned_jobs",
    "read_job_record",
    "recover_orphaned_job",
    "recover_orphaned_jobs",
    "write_job_record",
]

logger = logging.getLogger(__name__)

JOB_RECORD_FILENAME = ".fractal_job.json"


def write_job_record(job_dir: Path, **fields: Any) -> None:
    """What a later process needs to name the job (ids, names), as JSON strings."""
    record = {
        key: None if value is None else str(value) for key, value in fields.items()
    }
    path = Path(job_dir) / JOB_RECORD_FILENAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def read_job_record(job_dir: Path) -> dict[str, Any]:
    """The job record of `job_dir` ({} when missing or unreadable)."""
    try:
        data = json.loads((Path(job_dir) / JOB_RECORD_FILENAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class RecoveredJob:
    """An orphaned job that was marked failed."""

    working_dir: Path
    job_id: Hashable
    owner: liveness.JobOwner | None
    killed_pids: list[int]
    log: str


def _reason(owner: liveness.JobOwner | None, killed: list[int]) -> str:
    who = (
        f"pid {owner.pid} on host {owner.host}, started at {owner.started_at}"
        if owner is not None
        else "an unknown process"
    )
    text = (
        f"The process running this job ({who}) ended without finishing it; "
        f"the job was marked failed by pid {os.getpid()} on host "
        f"{socket.gethostname()}."
    )
    if killed:
        text += f" Task processes left running were killed: {killed}."
    return text


def _append_log(job_dir: Path, job_id: Hashable, text: str) -> None:
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    line = f"{stamp} - job{job_id}-recovery - WARNING - {text}\n"
    try:
        with open(job_dir / WORKFLOW_LOG_FILENAME, "a") as log:
            log.write(line)
    except OSError as exc:
        logger.warning("Cannot append to the log of job folder %s: %s", job_dir, exc)


def recover_orphaned_job(
    working_dir: Path,
    *,
    recorder: Recorder | None = None,
    job: Any = None,
    zip_job_folder: bool = True,
) -> RecoveredJob | None:
    """Mark the job of `working_dir` failed if its process is gone; else None.

    Only ORPHANED folders are touched (see `liveness.inspect_job_folder`): a
    live, finished or foreign-host job is left alone.
    """
    working_dir = Path(working_dir)
    if liveness.inspect_job_folder(working_dir) is not liveness.JobFolderState.ORPHANED:
        return None
    owner = liveness.read_owner(working_dir)
    killed = liveness.kill_token_processes(owner.token) if owner is not None else []
    record = read_job_record(working_dir)
    job_id: Hashable = record.get("job_id")
    if job is not None and getattr(job, "id", None) is not None:
        job_id = job.id
    reason = _reason(owner, killed)
    _append_log(working_dir, job_id, reason)
    error = JobExecutionError(info=reason)
    text = f"JOB ERROR in Fractal job {job_id}:\nTRACEBACK:\n{error.assemble_error()}"
    liveness.mark_finished(working_dir, JobStatus.FAILED.value)
    end = datetime.now(UTC)
    if recorder is not None:
        recorder.job_ended(
            job_id=job_id, status=JobStatus.FAILED, log=text, end_timestamp=end
        )
    if job is not None:
        job.finish(JobStatus.FAILED, log=text, at=end)
    logger.warning("Job %s (%s) was orphaned: %s", job_id, working_dir, reason)
    if zip_job_folder:
        zip_folder(working_dir)
    return RecoveredJob(working_dir, job_id, owner, killed, text)


def find_orphaned_jobs(base_dir: Path, *, max_depth: int = 4) -> list[Path]:
    """Job folders under `base_dir` (up to `max_depth` levels) that are ORPHANED.

    Symbolic links are not followed.
    """
    found: list[Path] = []
    base_dir = Path(base_dir)
    base_depth = len(base_dir.parts)
    for root, dirs, files in os.walk(base_dir, followlinks=False):
        here = Path(root)
        if liveness.OWNER_FILENAME in files:
            if liveness.inspect_job_folder(here) is liveness.JobFolderState.ORPHANED:
                found.append(here)
            dirs[:] = []  # a job folder holds no other job folders
        elif len(here.parts) - base_depth >= max_depth:
            dirs[:] = []
    return sorted(found)


def recover_orphaned_jobs(
    base_dir: Path, *, recorder: Recorder | None = None, zip_job_folder: bool = True
) -> list[RecoveredJob]:
    """`recover_orphaned_job` for every orphaned job folder under `base_dir`."""
    recovered = []
    for folder in find_orphaned_jobs(base_dir):
        result = recover_orphaned_job(
            folder, recorder=recorder, zip_job_folder=zip_job_folder
        )
        if result is not None:
            recovered.append(result)
    return recovered
