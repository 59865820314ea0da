"""Starting, reusing and stopping a cluster of its own (not the session's)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import cluster as c


def _marked(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            raw = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in raw:
            found.append(int(name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def own_state(slurm_cluster: c.SlurmCluster) -> Iterator[Path]:
    """A fresh state folder under /tmp (munge must be able to reach it)."""
    path = Path(tempfile.mkdtemp(prefix="fc-slurm-life-", dir="/tmp"))
    yield path
    c.stop(path)
    shutil.rmtree(path, ignore_errors=True)


def test_start_reuse_release_stop(own_state: Path) -> None:
    first = c.start(own_state, lease=True)
    assert first.started_here
    pids = c.running_daemons(own_state)
    assert set(pids) == {"slurmd", "slurmctld", "munged"}
    again = c.start(own_state)
    assert not again.started_here and c.running_daemons(own_state) == pids
    assert again.slurm_conf == first.slurm_conf

    # A job running when the cluster stops does not survive it.
    marker = f"fc-life-{uuid.uuid4().hex}"
    job = first.run(
        [
            "sbatch",
            "--parsable",
            "--mem=50M",
            "-o",
            "/dev/null",
            "-D",
            "/tmp",
            "--wrap",
            f"python3 -c 'import time; time.sleep(300)' {marker}",
        ]
    ).strip()
    deadline = time.monotonic() + 60
    while not _marked(marker) or first.job_info(job)["JobState"] != "RUNNING":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)

    # Another live lease holder keeps the cluster up.
    (own_state / "leases" / str(os.getppid())).touch()
    assert c.release(first) is False
    assert c.running_daemons(own_state) == pids
    (own_state / "leases" / str(os.getppid())).unlink()
    assert c.release(first) is True
    assert c.running_daemons(own_state) == {}
    assert not any(_alive(p) for p in pids.values())
    deadline = time.monotonic() + 30
    while _marked(marker):
        assert time.monotonic() < deadline, "the job's process outlived the cluster"
        time.sleep(0.1)
    assert not list((own_state / "run").glob("*.pid"))


def test_stale_pid_files_and_partial_cluster(own_state: Path) -> None:
    first = c.start(own_state)
    old = c.running_daemons(own_state)
    # A half-dead cluster (slurmd gone) is restarted as a whole.
    os.kill(old["slurmd"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while "slurmd" in c.running_daemons(own_state):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = c.start(own_state)
    assert second.started_here
    new = c.running_daemons(own_state)
    assert set(new) == set(old) and not set(new.values()) & set(old.values())
    c.stop(own_state)
    # Stale pid files naming unrelated live processes are not taken for daemons.
    (own_state / "run").mkdir(exist_ok=True)
    for name in ("slurmd", "slurmctld"):
        (own_state / "run" / f"{name}.pid").write_text(f"{os.getpid()}\n")
    (own_state / "munge" / "munged.pid").write_text("1\n")
    assert c.running_daemons(own_state) == {}
    third = c.start(own_state)
    assert third.started_here and len(c.running_daemons(own_state)) == 3
    assert _node_idle(third)
    assert first.state_dir == third.state_dir


def _node_idle(cluster: c.SlurmCluster) -> bool:
    return cluster.run(["sinfo", "-h", "-o", "%T"]).strip() == "idle"


def test_command_line(own_state: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "python3",
                "-m",
                "tests.slurm.cluster",
                *args,
                "--state-dir",
                str(own_state),
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
            timeout=120,
        )

    res = cli("start")
    assert res.returncode == 0, res.stderr
    assert "node: idle" in res.stderr
    assert (own_state / "leases" / "cli").exists()
    assert "slurmd: running" in cli("status").stderr
    res = cli("stop")
    assert res.returncode == 0 and "slurmd: down" in res.stderr
    assert c.running_daemons(own_state) == {}


def test_bad_user_name_refused() -> None:
    with pytest.raises(ValueError, match="Invalid user name"):
        c.ensure_user("-rf")
