"""`status JOB_DIR`: running, orphaned, done or failed, from the job folder alone.

Reads the records a job leaves in its folder (owner, end, job record) and
the tail of `workflow.log`; a folder that was zipped and removed is read from
`<JOB_DIR>.zip`.
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ..engine import liveness
from ..engine.recovery import JOB_RECORD_FILENAME
from ..engine.recovery import read_job_record
from ..engine.task_files import WORKFLOW_LOG_FILENAME
from ._common import EXIT_FAILED
from ._common import EXIT_OK
from ._common import EXIT_RUNNING
from ._common import UsageError
from ._common import absolute_path
from ._common import say

__all__ = ["JobState", "add_parser", "job_state"]

MAX_RECORD_BYTES = 1_000_000
_EXIT = {"done": EXIT_OK, "running": EXIT_RUNNING}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "status",
        help="say whether a job is running, orphaned, done or failed",
        description="Read a job folder (or its .zip) and print the job's state: "
        "running, orphaned (its process died), done or failed, with the end of "
        "its log. Exit code 0 done, 1 failed or orphaned, 3 running.",
    )
    p.add_argument("job_dir", metavar="JOB_DIR", help="the job folder")
    p.add_argument(
        "--log-lines",
        type=int,
        default=10,
        help="how many last lines of workflow.log to show (default 10, 0: none)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(handler=run)


JobState = dict[str, Any]


def _tail(text: str, lines: int) -> list[str]:
    return text.splitlines()[-lines:] if lines > 0 else []


def _from_zip(archive: Path, lines: int) -> JobState:
    """State of a job folder that was zipped (and removed)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())

            def read(name: str) -> str | None:
                if name not in names or zf.getinfo(name).file_size > MAX_RECORD_BYTES:
                    return None
                return zf.read(name).decode("utf-8", errors="replace")

            end = read(liveness.END_FILENAME)
            record = read(JOB_RECORD_FILENAME)
            log = read(WORKFLOW_LOG_FILENAME) or ""
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"JOB_DIR: cannot read {archive}: {exc}") from exc
    if end is None:
        raise UsageError(f"JOB_DIR: {archive} holds no job end record.")
    try:
        status = json.loads(end).get("status", "failed")
        info = json.loads(record) if record else {}
    except (ValueError, AttributeError) as exc:
        raise UsageError(f"JOB_DIR: {archive} has a corrupt record: {exc}") from exc
    return {"state": str(status), "job": info, "log": _tail(log, lines)}


def _read_log(job_dir: Path, lines: int) -> list[str]:
    path = job_dir / WORKFLOW_LOG_FILENAME
    try:
        if path.is_symlink() or not path.is_file():
            return []
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - MAX_RECORD_BYTES))
            return _tail(f.read().decode("utf-8", errors="replace"), lines)
    except OSError:
        return []


def job_state(job_dir: Path, lines: int = 10) -> JobState:
    """`state` (running, orphaned, done, failed), job record and log tail."""
    archive = job_dir.with_name(job_dir.name + ".zip")
    if not job_dir.exists():
        if archive.is_file():
            return _from_zip(archive, lines)
        raise UsageError(f"JOB_DIR {str(job_dir)!r} does not exist.")
    if job_dir.is_symlink() or not job_dir.is_dir():
        raise UsageError(f"JOB_DIR {str(job_dir)!r} is not a folder.")
    folder = liveness.inspect_job_folder(job_dir)
    if folder is liveness.JobFolderState.FINISHED:
        end = liveness.read_end(job_dir) or {}
        state = str(end.get("status", "failed"))
    elif folder is liveness.JobFolderState.LIVE:
        state = "running"
    elif folder is liveness.JobFolderState.ORPHANED:
        state = "orphaned"
    elif liveness.read_owner(job_dir) is None:
        raise UsageError(
            f"JOB_DIR {str(job_dir)!r} is not a fractal_core job folder "
            f"(no {liveness.OWNER_FILENAME})."
        )
    else:
        state = "unknown"
    return {
        "state": state,
        "job": read_job_record(job_dir),
        "log": _read_log(job_dir, lines),
    }


def run(args: argparse.Namespace) -> int:
    if args.log_lines < 0:
        raise UsageError(f"--log-lines {args.log_lines}: give 0 or more.")
    job_dir = absolute_path(args.job_dir, "JOB_DIR")
    info = job_state(job_dir, args.log_lines)
    if args.json:
        say(json.dumps({"job_dir": os.fspath(job_dir), **info}, indent=2))
    else:
        job = info["job"]
        name = (
            f" (workflow {job['workflow_name']!r})" if job.get("workflow_name") else ""
        )
        say(f"job {job.get('job_id', '?')}{name}: {info['state']}")
        for line in info["log"]:
            say(f"    {line}")
    return _EXIT.get(info["state"], EXIT_FAILED)
