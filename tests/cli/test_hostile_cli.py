"""The command line against hostile input: Ctrl-C during `run`, workflow files
that are malformed, not UTF-8, deeply nested, empty of tasks, not regular files
or naming missing tasks, and paths with spaces, quotes, shell syntax, newlines,
'..' and symlinks. Each refusal is exit code 2 with one line naming the problem
and nothing written; Ctrl-C is exit code 130 with the job failed and no unit
process left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fractal_core.engine import liveness
from fractal_core.engine.liveness import JobFolderState
from fractal_core.engine.liveness import inspect_job_folder
from tests.engine.process_tools import processes_with_marker

from .conftest import HANG_GUARD
from .conftest import Collected
from .conftest import cli
from .test_cli import steps


def _run_args(collected: Collected, workflow: Path, tmp_path: Path) -> list[str]:
    return [
        "run",
        str(workflow),
        "--tasks-dir",
        str(collected.base_dir),
        "--zarr-dir",
        str(tmp_path / "zarr"),
        "--job-dir",
        str(tmp_path / "job"),
        "--quiet",
    ]


def _one_line_refusal(out: object, *needles: str) -> str:
    """The single stderr line of a usage error; it names every needle."""
    assert out.returncode == 2, (out.returncode, out.stderr)  # type: ignore[attr-defined]
    lines = out.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, out.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return str(lines[0])


def test_ctrl_c_during_run_exits_130_fails_the_job_and_leaves_no_process(
    collected: Collected, tmp_path: Path
) -> None:
    workflow = collected.workflow_file(tmp_path / "wf.json", steps([], sleep=300))
    job = tmp_path / "job"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fractal_core",
            *_run_args(collected, workflow, tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    marker = str(job)
    try:
        deadline = time.monotonic() + HANG_GUARD
        while len(processes_with_marker(marker, 0, also="1_mark_image")) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the units never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=HANG_GUARD)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].endswith("run: interrupted")
    assert "Traceback" not in stderr
    assert processes_with_marker(marker, also="1_mark_image") == []
    assert inspect_job_folder(job) is JobFolderState.FINISHED
    status = json.loads(cli("status", job, "--json").stdout)
    assert status["state"] == "failed"
    assert any("KeyboardInterrupt" in line for line in status["log"]), status["log"]
    assert not (job / liveness.OWNER_FILENAME).exists() or status["state"] != "running"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("malformed.json", b'{"name": "w", "task_list": [', "not valid JSON"),
        ("latin1.json", b'{"name": "caf\xe9"}', "not UTF-8"),
        ("nested.json", b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        ("array.json", b"[1, 2]", "JSON object"),
        ("empty.json", b"", "not valid JSON"),
        ("no tasks.json", b'{"name": "w", "task_list": []}', "no tasks"),
        (
            "ghost.json",
            json.dumps(
                {
                    "name": "w",
                    "task_list": [
                        {"task": {"pkg_name": "nope", "version": "1", "name": "ghost"}}
                    ],
                }
            ).encode(),
            "ghost",
        ),
        ("pkgless.json", b'{"name": "w", "task_list": [{"task": {}}]}', "pkg_name"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_bad_workflow_file_is_one_line_exit_2_and_writes_nothing(
    collected: Collected, tmp_path: Path, name: str, content: bytes, needle: str
) -> None:
    workflow = tmp_path / name
    workflow.write_bytes(content)
    out = cli(*_run_args(collected, workflow, tmp_path))
    line = _one_line_refusal(out, needle)
    assert name in line or needle == "ghost"
    assert not (tmp_path / "job").exists() and not (tmp_path / "zarr").exists()


def test_a_workflow_path_that_is_not_a_regular_file_is_refused_at_once(
    collected: Collected, tmp_path: Path
) -> None:
    fifo = tmp_path / "wf.fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "wf_folder.json"
    folder.mkdir()
    for path in (fifo, folder):
        out = cli(*_run_args(collected, path, tmp_path), timeout=60)  # a FIFO hung
        _one_line_refusal(out, str(path), "not a regular file")
    assert not (tmp_path / "job").exists()


@pytest.mark.parametrize(
    "name",
    ['we ird "q" \'s', "semi;$(touch pwned)`touch pwned`|x&", "-dash", "üñí €"],
)
def test_hostile_path_names_arrive_literally(
    collected: Collected, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / name
    folder.mkdir()
    workflow = collected.workflow_file(folder / f"wf {name}.json", steps([])[:1])
    out = cli(*_run_args(collected, workflow, folder))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("done (3 images)")
    assert (folder / "job" / "workflow.log").is_file()
    assert sorted(p.name for p in (folder / "zarr").iterdir())  # images made there
    assert not list(tmp_path.rglob("pwned")) and not Path("pwned").exists()


def test_newlines_dotdot_and_symlinked_job_folders_are_refused(
    collected: Collected, tmp_path: Path
) -> None:
    workflow = collected.workflow_file(tmp_path / "wf.json", steps([])[:1])
    base = _run_args(collected, workflow, tmp_path)  # ... --job-dir JOB --quiet
    newline = cli(*base[:4], "--zarr-dir", str(tmp_path / "a\nb"), *base[6:])
    _one_line_refusal(newline, "zarr_dir", "control characters")
    dotdot = cli(*base[:-2], str(tmp_path / "x" / ".." / "job"), "--quiet")
    _one_line_refusal(dotdot, "--job-dir", "'..'")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link"
    link.symlink_to(elsewhere / "job")  # dangling: run would create its target
    linked = cli(*base[:-2], str(link), "--quiet")
    _one_line_refusal(linked, "--job-dir", "already exists")
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "job").exists() and not (tmp_path / "zarr").exists()
