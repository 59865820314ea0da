"""`python -m fractal_core` as a subprocess: collect, groups, run, status."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fractal_core.engine import liveness

from .conftest import HANG_GUARD
from .conftest import Collected
from .conftest import cli
from .conftest import read_json

COMMANDS = ["collect", "run", "status", "groups"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere(command: str | None) -> None:
    out = cli(*([command] if command else []), "--help")
    assert out.returncode == 0
    assert out.stdout.startswith("usage: python -m fractal_core")
    if command is None:
        assert all(c in out.stdout for c in COMMANDS)


def test_usage_errors_exit_2_with_one_line_on_stderr(tmp_path: Path) -> None:
    assert cli().returncode == 2
    assert cli("bogus").returncode == 2
    missing = cli("status", tmp_path / "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"python -m fractal_core status: error: JOB_DIR '{tmp_path / 'nope'}' "
        "does not exist."
    )
    assert "Traceback" not in missing.stderr
    not_a_job = cli("status", tmp_path)
    assert not_a_job.returncode == 2 and "not a fractal_core job folder" in (
        not_a_job.stderr
    )


def test_collect_and_groups(collected: Collected) -> None:
    assert "collected fractal-tasks-testkit 0.1.0: 12 tasks" in collected.first.stdout
    assert "    mark_image" in collected.first.stdout
    again = cli(
        "collect", collected.wheel, "--base-dir", collected.base_dir, "--no-upgrade-pip"
    )
    assert again.returncode == 0 and "collected fractal-tasks-testkit" in again.stdout
    listed = cli("groups", collected.base_dir)
    assert listed.returncode == 0
    assert listed.stdout.startswith(
        "fractal-tasks-testkit 0.1.0 (wheel-file, active, 12 tasks)"
    )
    as_json = json.loads(cli("groups", collected.base_dir, "--json").stdout)
    assert [g["pkg_name"] for g in as_json] == ["fractal-tasks-testkit"]
    assert "mark_image" in as_json[0]["tasks"]


def test_collect_of_a_bad_wheel_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "not_a_package-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    out = cli("collect", bad, "--base-dir", tmp_path / "base", "--no-upgrade-pip")
    assert out.returncode in (1, 2)
    assert "Traceback" not in out.stderr and out.stderr.strip()


def test_groups_of_a_missing_folder(tmp_path: Path) -> None:
    out = cli("groups", tmp_path / "none")
    assert out.returncode == 2 and "is not a folder" in out.stderr


def steps(fail_on: list[str], sleep: float = 0.0) -> list:
    return [
        ("create_images", {"args_non_parallel": {"num_images": 3}}),
        (
            "mark_image",
            {
                "args_parallel": {
                    "copy_suffix": "_m",
                    "fail_on": fail_on,
                    "sleep_time": sleep,
                }
            },
        ),
    ]


def test_run_done_then_status(collected: Collected, tmp_path: Path) -> None:
    wf_file = collected.workflow_file(tmp_path / "wf.json", steps([]))
    job = tmp_path / "job"
    out = cli(
        "run",
        wf_file,
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        tmp_path / "zarr",
        "--job-dir",
        job,
        "--save-dataset",
        tmp_path / "ds.json",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(": done (6 images)")
    assert "mark_image [done] units 3/3, images 3/3" in out.stderr
    saved = read_json(tmp_path / "ds.json")
    assert len(saved["images"]) == 6
    status = cli("status", job)
    assert status.returncode == 0
    assert status.stdout.splitlines()[0].endswith("(workflow 'cli-workflow'): done")
    assert 'End execution of workflow "cli-workflow"' in status.stdout
    as_json = json.loads(cli("status", job, "--json", "--log-lines", "0").stdout)
    assert as_json["state"] == "done" and as_json["log"] == []
    # the saved dataset is a dataset file a later run starts from
    more = collected.workflow_file(
        tmp_path / "wf2.json",
        [("mark_image", {"args_parallel": {"copy_suffix": "_x"}})],
    )
    again = cli(
        "run",
        more,
        "--tasks-dir",
        collected.base_dir,
        "--dataset",
        tmp_path / "ds.json",
        "--job-dir",
        tmp_path / "job2",
        "--quiet",
    )
    assert again.returncode == 0, again.stderr
    # mark_image takes unmarked images only: the 3 originals get a "_x" copy
    assert again.stdout.strip().endswith(": done (9 images)")


def test_run_failed_exits_1_and_status_says_failed(
    collected: Collected, tmp_path: Path
) -> None:
    wf_file = collected.workflow_file(tmp_path / "wf.json", steps(["02/0"]))
    job = tmp_path / "job"
    out = cli(
        "run",
        wf_file,
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        tmp_path / "zarr",
        "--job-dir",
        job,
        "--quiet",
    )
    assert out.returncode == 1
    assert out.stdout.strip().endswith(": failed (5 images)")
    assert "mark_image failed on" in out.stderr and "A/02/0" in out.stderr
    assert "[" not in out.stderr.splitlines()[0]  # --quiet: no progress lines
    status = cli("status", job)
    assert status.returncode == 1 and status.stdout.splitlines()[0].endswith(": failed")


def test_run_on_existing_images_with_scan(collected: Collected, tmp_path: Path) -> None:
    zarr = tmp_path / "zarr"
    (zarr / "p.zarr").mkdir(parents=True)
    (zarr / "p.zarr" / ".zattrs").write_text(json.dumps({"plate": {}}))
    for well in ("01", "02"):
        image = zarr / "p.zarr" / "B" / well / "0"
        image.mkdir(parents=True)
        (image / ".zattrs").write_text(json.dumps({"multiscales": [{}]}))
    (zarr / "other").mkdir()  # not an image
    wf_file = collected.workflow_file(
        tmp_path / "wf.json", [("mark_image", {"args_parallel": {"copy_suffix": "_c"}})]
    )
    out = cli(
        "run",
        wf_file,
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        zarr,
        "--scan",
        "--job-dir",
        tmp_path / "job",
        "--save-dataset",
        tmp_path / "d.json",
    )
    assert out.returncode == 0, out.stderr
    images = read_json(tmp_path / "d.json")["images"]
    assert [i["zarr_url"] for i in images] == [
        f"{zarr}/p.zarr/B/01/0",
        f"{zarr}/p.zarr/B/02/0",
        f"{zarr}/p.zarr/B/01/0_c",
        f"{zarr}/p.zarr/B/02/0_c",
    ]
    assert images[0]["attributes"] == {"plate": "p.zarr", "well": "B01"}


def test_run_refusals_write_nothing(collected: Collected, tmp_path: Path) -> None:
    wf_file = collected.workflow_file(tmp_path / "wf.json", steps([]))
    job = tmp_path / "job"
    job.mkdir()
    exists = cli(
        "run",
        wf_file,
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        tmp_path / "z",
        "--job-dir",
        job,
    )
    assert exists.returncode == 2 and "already exists" in exists.stderr
    (tmp_path / "bad.json").write_text("{not json")
    bad = cli(
        "run",
        tmp_path / "bad.json",
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        tmp_path / "z",
        "--job-dir",
        tmp_path / "job2",
    )
    assert bad.returncode == 2 and "bad.json" in bad.stderr
    assert "Traceback" not in bad.stderr
    no_tasks = cli(
        "run",
        wf_file,
        "--tasks-dir",
        tmp_path / "empty",
        "--zarr-dir",
        tmp_path / "z",
        "--job-dir",
        tmp_path / "job3",
    )
    assert no_tasks.returncode == 2 and "create_images" in no_tasks.stderr
    dotdot = cli(
        "run",
        wf_file,
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        tmp_path / "z",
        "--job-dir",
        "a/../b",
    )
    assert dotdot.returncode == 2 and "'..'" in dotdot.stderr
    assert not (tmp_path / "job2").exists() and not (tmp_path / "job3").exists()


def test_status_running_then_done(collected: Collected, tmp_path: Path) -> None:
    wf_file = collected.workflow_file(tmp_path / "wf.json", steps([], sleep=3.0))
    job = tmp_path / "job"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fractal_core",
            "run",
            str(wf_file),
            "--tasks-dir",
            str(collected.base_dir),
            "--zarr-dir",
            str(tmp_path / "zarr"),
            "--job-dir",
            str(job),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not (job / liveness.OWNER_FILENAME).exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        running = cli("status", job)
        assert running.returncode == 3 and ": running" in running.stdout
    finally:
        assert proc.wait(timeout=HANG_GUARD) == 0
    assert cli("status", job).returncode == 0


def test_status_of_an_orphaned_job(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    code = (
        "import sys; from pathlib import Path; "
        "from fractal_core.engine.liveness import write_owner; "
        "write_owner(Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(job)], check=True, timeout=60)
    out = cli("status", job)
    assert out.returncode == 1 and out.stdout.strip().endswith(": orphaned")


def test_status_of_a_zipped_job(collected: Collected, tmp_path: Path) -> None:
    import shutil
    import zipfile

    wf_file = collected.workflow_file(tmp_path / "wf.json", steps([]))
    job = tmp_path / "job"
    assert (
        cli(
            "run",
            wf_file,
            "--tasks-dir",
            collected.base_dir,
            "--zarr-dir",
            tmp_path / "zarr",
            "--job-dir",
            job,
            "--quiet",
        ).returncode
        == 0
    )
    assert zipfile.is_zipfile(tmp_path / "job.zip")
    shutil.rmtree(job)  # as the engine does for large folders
    out = cli("status", job)
    assert out.returncode == 0 and out.stdout.splitlines()[0].endswith(": done")
