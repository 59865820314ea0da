"""End to end over SSH: the testkit collected on the remote host, run by SLURM over SSH.

Issue 16's first quality bar: the test task package is collected over SSH (a
wheel upload into the sshd test user's home, `tests/collection/ssh_fixtures`),
the collected group's tasks (commands in the remote venv) build the workflow
of every task type of the SLURM parity test, `SlurmExecutor` runs it on the
real cluster through the same SSH login, and the image list equals the one a
`LocalExecutor` gives with the locally installed testkit.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import collect_wheel
from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup
from fractal_core.executors import LocalExecutor
from fractal_core.hosts import SSHHost
from tests.collection.ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from tests.collection.ssh_fixtures import remote_settings_fixture  # noqa: F401

from .conftest import ExecutorFactory
from .test_executor import WORKFLOW
from .test_executor import _run_in_user_folder
from .test_executor import _run_workflow


class CollectedKit:
    """The collected group seen through the testkit's `task(name)` interface."""

    def __init__(self, group: TaskGroup) -> None:
        self.group = group

    def task(self, name: str) -> Task:
        """The collected task `name` (its commands point at the remote venv)."""
        return self.group.get_task(name)


@pytest.mark.slow
def test_testkit_collected_over_ssh_runs_on_slurm_over_ssh_like_locally(
    remote: SSHHost,
    remote_settings: CollectionSettings,
    slurm_testkit: Any,
    ssh_slurm_host: SSHHost,
    slurm_workdir: Path,
    slurm_executor_factory: ExecutorFactory,
    slurm_cluster: Any,
    tmp_path: Path,
) -> None:
    """Collected remotely, run remotely: same images as the local run."""
    res = collect_wheel(
        slurm_testkit.wheel, settings=remote_settings, user_id=1, host=remote
    )
    assert res.ok, res.activity.log
    group = res.task_group
    assert group is not None and group.path is not None
    assert group.path.startswith(f"{remote_settings.base_dir}/1/")
    venv_python = f"{group.path}/venv/bin/python"
    names = {name for name, _ in WORKFLOW}
    for name in names:
        task = group.get_task(name)
        for command in (task.command_non_parallel, task.command_parallel):
            assert command is None or command.startswith(f"{venv_python} ")

    with LocalExecutor(max_workers=2) as local:
        expected = _run_workflow(slurm_testkit, local, tmp_path / "local")
    executor = slurm_executor_factory(ssh_slurm_host, workdir=slurm_workdir / "slurm")
    got = _run_in_user_folder(CollectedKit(group), executor, slurm_workdir)
    assert got == expected
    assert len(expected) == 3 + 3 + 2  # raw, projections, second converter
    user = pwd.getpwnam(slurm_cluster.user)  # the sshd's user too
    assert os.stat(slurm_workdir / "run" / "zarr" / "plate.zarr").st_uid == user.pw_uid

    # The units ran from the collected venv: every sbatch script names it, and
    # no script names the locally installed testkit.
    scripts = sorted((slurm_workdir / "slurm").rglob("*.sh"))
    assert scripts, "no sbatch script written"
    texts = [s.read_text() for s in scripts]
    assert all(venv_python in text for text in texts)
    assert not any(str(slurm_testkit.python) in text for text in texts)
    assert executor.sbatch_calls == len(scripts)
