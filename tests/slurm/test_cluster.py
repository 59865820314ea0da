"""The real test cluster: it starts, runs jobs as root and as the test user."""

from __future__ import annotations

import pwd
import time
from pathlib import Path

import pytest

from fractal_core.hosts import SudoHost

from .cluster import SlurmCluster
from .cluster import running_daemons

SCRIPT = "#!/bin/bash\nid -u\necho done-$SLURM_JOB_ID\n"


def _wait_file(path: Path, limit: float = 60.0) -> str:
    """Wait (hang guard) until the job's output file has its last line."""
    deadline = time.monotonic() + limit
    while not (path.exists() and "done-" in path.read_text()):
        assert time.monotonic() < deadline, f"{path} never completed"
        time.sleep(0.1)
    return path.read_text()


def test_cluster_is_up_and_idle(slurm_cluster: SlurmCluster) -> None:
    assert set(running_daemons(slurm_cluster.state_dir)) == {
        "slurmd",
        "slurmctld",
        "munged",
    }
    out = slurm_cluster.run(["sinfo", "-h", "-o", "%P %a"])
    assert out.split() == [f"{slurm_cluster.partition}*", "up"]
    assert slurm_cluster.env == {"SLURM_CONF": str(slurm_cluster.slurm_conf)}
    assert (slurm_cluster.state_dir / "munge").stat().st_mode & 0o777 == 0o755


def test_job_as_root_completes(
    slurm_cluster: SlurmCluster, slurm_workdir: Path
) -> None:
    script = slurm_workdir / "ok.sh"
    script.write_text(SCRIPT)
    job_id = slurm_cluster.run(
        ["sbatch", "--parsable", "-D", str(slurm_workdir), "-o", "out-%j", str(script)]
    ).strip()
    assert job_id.isdigit()
    out = _wait_file(slurm_workdir / f"out-{job_id}")
    assert out.splitlines() == ["0", f"done-{job_id}"]
    info = slurm_cluster.wait_finished(job_id)
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0")


def test_job_as_test_user_completes(
    slurm_cluster: SlurmCluster, slurm_workdir: Path, fractal_user_host: SudoHost
) -> None:
    uid = pwd.getpwnam(slurm_cluster.user).pw_uid
    script = f"{slurm_workdir}/ok.sh"
    fractal_user_host.write_text(script, SCRIPT)
    res = fractal_user_host.run(
        ["sbatch", "--parsable", "-o", "out-%j", "--job-name", "as-user", script],
        cwd=str(slurm_workdir),
    ).check()
    job_id = res.stdout.strip()
    out_file = slurm_workdir / f"out-{job_id}"
    assert _wait_file(out_file).splitlines() == [str(uid), f"done-{job_id}"]
    assert out_file.stat().st_uid == uid
    info = slurm_cluster.wait_finished(job_id)
    assert info["JobState"] == "COMPLETED"
    assert info["UserId"].startswith(f"{slurm_cluster.user}({uid})")
    # jobcomp/filetxt records the final state too (written when the job ends).
    deadline = time.monotonic() + 30
    while slurm_cluster.jobcomp_state(job_id) is None:
        assert time.monotonic() < deadline, "job never reached the jobcomp file"
        time.sleep(0.1)
    assert slurm_cluster.jobcomp_state(job_id) == "COMPLETED"


def test_sudo_drops_slurm_conf_unless_passed(
    slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without env, sudo resets the environment: the user sees no SLURM_CONF."""
    bare = SudoHost(slurm_cluster.user)
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.slurm_conf))  # not passed on
    assert "SLURM_CONF" not in bare.run(["env"]).stdout
    with_env = SudoHost(slurm_cluster.user, env=slurm_cluster.env)
    assert f"SLURM_CONF={slurm_cluster.slurm_conf}" in with_env.run(["env"]).stdout
