"""Pytest plugin (registered in tests/conftest.py): the real SLURM test cluster.

Fixtures, usable anywhere in the test tree:

- `slurm_cluster` (session): a running `SlurmCluster`; started once per session,
  released at its end (the daemons stop when no other session uses them).
  Skips the requesting test, with the reason, when the cluster cannot run here
  (not root and SLURM not installed, ...).
- `slurm_workdir`: a fresh folder under /tmp, mode 0o777 (sticky bit off), that
  both root and `fractal_user` can read and write; removed afterwards.
- `fractal_user_host`: a `SudoHost` for the test user, with `SLURM_CONF` in its
  environment, so `fractal_user_host.run(["sbatch", ...])` reaches the cluster.
- `ssh_slurm_host`: an `SSHHost` logged in as the same test user on the
  session's sshd (`tests/ssh`), `SLURM_CONF` in its environment: SLURM over
  SSH. munge's socket folder is world-reachable (mode 755), so the remote user
  authenticates to the cluster like the sudo user does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_core.hosts import SSHHost
from fractal_core.hosts import SudoHost

from . import cluster as _cluster

WORKDIR_ROOT = Path(tempfile.gettempdir()) / "fractal_core_slurm_jobs"


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[_cluster.SlurmCluster]:
    """The running test cluster (skips when it cannot run on this machine)."""
    try:
        running = _cluster.start(lease=True)
    except _cluster.ClusterUnavailable as e:
        pytest.skip(f"no SLURM test cluster: {e}")
    try:
        yield running
    finally:
        if os.environ.get("FRACTAL_CORE_SLURM_KEEP"):
            (running.state_dir / "leases" / str(os.getpid())).unlink(missing_ok=True)
        else:
            _cluster.release(running)


@pytest.fixture
def slurm_workdir(slurm_cluster: _cluster.SlurmCluster) -> Iterator[Path]:
    """A fresh folder readable and writable by root and the test user."""
    WORKDIR_ROOT.mkdir(exist_ok=True)
    WORKDIR_ROOT.chmod(0o755)
    path = Path(tempfile.mkdtemp(prefix="job-", dir=WORKDIR_ROOT))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fractal_user_host(slurm_cluster: _cluster.SlurmCluster) -> SudoHost:
    """A SudoHost for the test user, its commands seeing the cluster."""
    return SudoHost(slurm_cluster.user, env=slurm_cluster.env, kill_grace=0.5)


@pytest.fixture
def ssh_slurm_host(slurm_cluster: _cluster.SlurmCluster, sshd: object) -> SSHHost:
    """An SSHHost for the test user whose commands see the cluster."""
    from tests.ssh.fixtures import host_for
    from tests.ssh.sshd import SSHServer

    assert isinstance(sshd, SSHServer)
    assert sshd.endpoint.user == slurm_cluster.user  # one test user for both
    return host_for(sshd.endpoint, env=slurm_cluster.env)
