"""Fixtures for the SLURM executor on the real test cluster (`tests/slurm`)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from fractal_core.executors.slurm import SlurmBatchingConfig
from fractal_core.executors.slurm import SlurmExecutor
from fractal_core.executors.slurm import SlurmOptions
from fractal_core.executors.slurm import SlurmResourceConfig
from fractal_core.executors.slurm import SlurmWatcher
from fractal_core.hosts import LocalHost
from fractal_core.hosts.base import Host

if TYPE_CHECKING:
    from tests.ssh import sshd as _sshd

    from .ssh_rig import Rig

POLL = 0.2  # seconds between queue polls in tests
GUARD = 120.0  # hang guard for waits on the cluster, never a speed requirement


def small_resource(
    *, cpus: int = 1, mem: int | str = 200, target_cpus: int = 2, **options: Any
) -> SlurmResourceConfig:
    """1 CPU and 200 MB per unit, two units per job, room for many jobs."""
    return SlurmResourceConfig(
        default_slurm_config=SlurmOptions(
            partition="main", cpus_per_task=cpus, mem=mem, **options
        ),
        batching_config=SlurmBatchingConfig(
            target_num_jobs=50,
            max_num_jobs=200,
            target_cpus_per_job=target_cpus,
            max_cpus_per_job=2,
            target_mem_per_job=4000,
            max_mem_per_job=8000,
        ),
    )


ExecutorFactory = Callable[..., SlurmExecutor]


@pytest.fixture
def slurm_executor_factory(
    slurm_cluster: Any, tmp_path: Path
) -> Iterator[ExecutorFactory]:
    """Makes `SlurmExecutor`s on the test cluster; cancels their work afterwards.

    Each executor gets its own watcher polling every `POLL` seconds unless
    `watcher=` is given; `host` defaults to `LocalHost()` (root here).
    """
    made: list[SlurmExecutor] = []

    def make(
        host: Host | None = None,
        *,
        workdir: Path | None = None,
        watcher: SlurmWatcher | None = None,
        **kwargs: Any,
    ) -> SlurmExecutor:
        host = host or LocalHost()
        folder = workdir or tmp_path / "slurm"
        kwargs.setdefault("resource", small_resource())
        kwargs.setdefault("cancel_grace", 1.0)
        executor = SlurmExecutor(
            host,
            remote_workdir=str(folder),
            slurm_env=slurm_cluster.env,
            watcher=watcher
            or SlurmWatcher(
                host,
                env=slurm_cluster.env,
                interval=POLL,
                jobcomp_file=str(slurm_cluster.jobcomp_file),
            ),
            **kwargs,
        )
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.shutdown(cancel=True)


@pytest.fixture(scope="session")
def slurm_testkit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The testkit task package in a venv (root only: for same-user runs)."""
    from tests.engine.testkit import install_testkit

    yield install_testkit(tmp_path_factory.mktemp("slurm-testkit"))


@pytest.fixture(scope="session")
def shared_testkit(slurm_testkit: Any) -> Iterator[Any]:
    """The testkit in a venv of the system Python that every user can read.

    The root-only copy lives under pytest's private temp folder and its venv
    points at root's own interpreter; `fractal_user` (sudo mode) needs both
    the package and the interpreter readable.
    """
    import shutil
    import subprocess
    import tempfile

    from tests.engine.testkit import InstalledTestkit

    system_python = "/usr/bin/python3"
    if not Path(system_python).exists():
        pytest.skip(f"{system_python} missing: no testkit for the test user")
    root = Path(tempfile.mkdtemp(prefix="fractal_core_testkit_"))
    root.chmod(0o755)
    venv = root / "venv"
    wheel = root / slurm_testkit.wheel.name
    shutil.copy(slurm_testkit.wheel, wheel)
    subprocess.run([system_python, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
    )
    location = subprocess.run(
        [
            str(python),
            "-c",
            "import fractal_tasks_testkit, os; "
            "print(os.path.dirname(fractal_tasks_testkit.__file__))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    yield InstalledTestkit(
        python=python,
        package_root=Path(location),
        wheel=wheel,
        manifest=slurm_testkit.manifest,
        version=slurm_testkit.version,
    )
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def rig(slurm_workdir: Path, ssh_slurm_host: Any, slurm_cluster: Any) -> Rig:
    """Counters, folders and a counting `sbatch` for SLURM over SSH (`ssh_rig.py`)."""
    from .ssh_rig import SYSTEM_PYTHON
    from .ssh_rig import Rig

    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip(f"{SYSTEM_PYTHON} missing: no Python for the remote user")
    return Rig(slurm_workdir, ssh_slurm_host, dict(slurm_cluster.env))


@pytest.fixture
def restarting_sshd(sshd: _sshd.SSHServer) -> Iterator[_sshd.SSHServer]:
    """The session's sshd, brought back after a test that stopped it."""
    from tests.ssh import sshd as _sshd

    yield sshd
    if not _sshd.accepts(sshd.endpoint.port):
        _sshd.restart(sshd)
