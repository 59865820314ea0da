"""Tasks that misbehave on purpose: the job still ends, quickly, and leaks nothing."""

from __future__ import annotations

import shlex
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

from fractal_core.domain.task import Task
from fractal_core.domain.workflow import Workflow
from fractal_core.engine.job import JobOutcome
from fractal_core.engine.job import run_job
from fractal_core.executors.local import LocalExecutor

from .harness import DatasetStub

HANG_GUARD = 60.0

HOSTILE = """
import json, os, sys
args = json.load(open(sys.argv[sys.argv.index("--args-json") + 1]))
out = sys.argv[sys.argv.index("--out-json") + 1]
folder = os.path.dirname(out)
mode = args["mode"]
if mode == "links":
    os.symlink("/dev/zero", os.path.join(folder, "zero"))
    os.symlink(args["secret"], os.path.join(folder, "secret-link"))
    os.symlink(os.path.dirname(args["secret"]), os.path.join(folder, "dir-link"))
    os.mkfifo(os.path.join(folder, "a-fifo"))
elif mode == "fifo-output":
    os.mkfifo(out)
elif mode == "nan-output":
    url = os.path.join(args["zarr_dir"], "img")
    open(out, "w").write(
        '{"image_list_updates": [{"zarr_url": "%s", "attributes": {"a": NaN}}]}' % url
    )
elif mode == "huge-invalid-output":
    blob = "x" * 50_000_000
    json.dump({"image_list_updates": [{"zarr_url": 3, "attributes": {"a": blob}}]},
              open(out, "w"))
"""


def _hostile_task(tmp_path: Path) -> Task:
    script = tmp_path / "tasks" / "hostile.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(HOSTILE)
    return Task(
        name="hostile",
        type="converter_non_parallel",
        command_non_parallel=shlex.join([sys.executable, str(script)]),
    )


def _run_guarded(tmp_path: Path, args: dict[str, Any]) -> JobOutcome:
    wf = Workflow(name="wf")
    wf.append_task(_hostile_task(tmp_path), args_non_parallel=args, validate_args=False)
    box: dict[str, JobOutcome] = {}

    def target() -> None:
        with LocalExecutor() as ex:
            box["outcome"] = run_job(
                workflow=wf,
                dataset=DatasetStub(zarr_dir=str(tmp_path / "zarr")),
                executor=ex,
                working_dir=tmp_path / "job",
            )

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "the job never returned"
    return box["outcome"]


def test_links_and_fifos_in_the_job_folder_neither_hang_nor_leak(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET-CONTENT")
    outcome = _run_guarded(tmp_path, {"mode": "links", "secret": str(secret)})
    assert outcome.status == "done", outcome.log
    with zipfile.ZipFile(tmp_path / "job.zip") as zf:
        contents = b"".join(zf.read(name) for name in zf.namelist())
        names = zf.namelist()
    assert b"TOP-SECRET-CONTENT" not in contents
    assert not any(name.endswith("dir-link/secret.txt") for name in names)
    assert "workflow.log" in names


def test_output_replaced_by_a_fifo_fails_the_unit_without_hanging(
    tmp_path: Path,
) -> None:
    outcome = _run_guarded(tmp_path, {"mode": "fifo-output"})
    assert outcome.status == "failed"
    assert "regular file" in outcome.log


def test_huge_invalid_output_gives_a_short_error(tmp_path: Path) -> None:
    outcome = _run_guarded(tmp_path, {"mode": "huge-invalid-output"})
    assert outcome.status == "failed"
    assert len(outcome.log) < 20_000
    assert "zarr_url" in outcome.log


def test_nan_attribute_in_an_output_is_refused(tmp_path: Path) -> None:
    outcome = _run_guarded(tmp_path, {"mode": "nan-output"})
    assert outcome.status == "failed"
    assert outcome.images is not None and len(outcome.images) == 0
