"""`run --executor slurm` as a subprocess, on the project's real test cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Collected
from .conftest import cli
from .test_cli import steps


def run_args(collected: Collected, tmp_path: Path, *extra: Any) -> list[Any]:
    wf_file = collected.workflow_file(tmp_path / "wf.json", steps([]))
    return [
        "run",
        wf_file,
        "--tasks-dir",
        collected.base_dir,
        "--zarr-dir",
        tmp_path / "zarr",
        "--job-dir",
        tmp_path / "job",
        *extra,
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--executor", "slurm"], "needs --slurm-config or --slurm-partition"),
        (
            ["--executor", "slurm", "--slurm-partition", "main", "--slurm-env", "X"],
            "--slurm-env 'X': expected NAME=VALUE",
        ),
        (["--slurm-partition", "main"], "--slurm-partition need(s) --executor slurm"),
        (
            ["--executor", "slurm", "--slurm-partition", "main", "--max-workers", "2"],
            "--max-workers is for the local executor",
        ),
        (
            ["--executor", "slurm", "--slurm-partition", "p", "--slurm-poll", "0"],
            "--slurm-poll 0.0: give a positive number",
        ),
    ],
)
def test_slurm_usage_errors_write_nothing(
    collected: Collected, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = cli(*run_args(collected, tmp_path, *extra))
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "job").exists()


def test_bad_slurm_config_file_and_user(collected: Collected, tmp_path: Path) -> None:
    config = tmp_path / "slurm.json"
    config.write_text(json.dumps({"default_slurm_config": {"mem": "lots"}}))
    out = cli(
        *run_args(collected, tmp_path, "--executor", "slurm", "--slurm-config", config)
    )
    assert out.returncode == 2, out.stderr
    assert "is not a valid SLURM configuration" in out.stderr
    assert "Traceback" not in out.stderr
    hostile = cli(
        *run_args(
            collected,
            tmp_path,
            "--executor",
            "slurm",
            "--slurm-partition",
            "main",
            "--sudo-user",
            "x; touch /tmp/owned",
        )
    )
    assert hostile.returncode == 2 and "Traceback" not in hostile.stderr
    assert "x; touch /tmp/owned" in hostile.stderr
    assert not Path("/tmp/owned").exists()
    assert not (tmp_path / "job").exists()


def test_run_on_the_cluster_as_the_current_user(
    collected: Collected, tmp_path: Path, slurm_cluster: Any
) -> None:
    config = tmp_path / "slurm.json"
    config.write_text(
        json.dumps(
            {
                "default_slurm_config": {
                    "partition": "main",
                    "cpus_per_task": 1,
                    "mem": "200M",
                },
                "batching_config": {
                    "target_num_jobs": 2,
                    "max_num_jobs": 10,
                    "target_cpus_per_job": 2,
                    "max_cpus_per_job": 2,
                    "target_mem_per_job": 1000,
                    "max_mem_per_job": 2000,
                },
            }
        )
    )
    env = [a for k, v in slurm_cluster.env.items() for a in ("--slurm-env", f"{k}={v}")]
    out = cli(
        *run_args(
            collected,
            tmp_path,
            "--executor",
            "slurm",
            "--slurm-config",
            config,
            "--slurm-poll",
            "0.3",
            *env,
        )
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(": done (6 images)")
    assert "mark_image [done] units 3/3, images 3/3" in out.stderr
    scripts = list((tmp_path / "job" / "slurm").rglob("*.sh"))
    assert scripts, "the units did not go through sbatch"
    assert "#SBATCH --partition=main" in scripts[0].read_text()
