"""The executor contract suite, unchanged, on `SlurmExecutor` over SSH.

The cases are imported as they are from the contract module. Only the
fixtures they take are provided here: the executor runs on an `SSHHost`
logged in as the test user on the session's sshd, reaching the session's
SLURM cluster (`ssh_slurm_host`). Each unit's args, output and log files
live in a folder of that user's on the "remote" side (`*_remote` paths):
args files go there by tar before submission, outputs and logs come back by
tar. `tmp_path` is a folder the remote user can write (pid files of the
cases), and the task script runs under the system Python.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors import Executor
from fractal_core.hosts import SSHHost

from ..conftest import TASK_SCRIPT
from ..test_contract import test_attach_refuses_bad_state  # noqa: F401
from ..test_contract import test_attach_to_running_units  # noqa: F401
from ..test_contract import test_cancel_queued_and_running_leaves_no_process  # noqa: F401
from ..test_contract import test_duplicate_ids_refused  # noqa: F401
from ..test_contract import test_fifo_output_refused_without_hanging  # noqa: F401
from ..test_contract import test_handle_ids_are_unique_and_stable  # noqa: F401
from ..test_contract import test_outcomes_of_each_kind  # noqa: F401
from ..test_contract import test_protocols  # noqa: F401
from ..test_contract import test_shutdown_refuses_new_work  # noqa: F401
from ..test_contract import test_shutdown_with_cancel_stops_running_units  # noqa: F401
from ..test_contract import test_snapshot_is_json_and_attach_recovers_results  # noqa: F401
from ..test_contract import test_states_as_completed_and_native_ids  # noqa: F401
from ..test_contract import test_states_while_running  # noqa: F401
from ..test_contract import test_time_limit  # noqa: F401
from ..test_contract import test_unit_batch_runs_like_a_list  # noqa: F401
from .conftest import ExecutorFactory

SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def tmp_path(slurm_workdir: Path) -> Path:
    """A folder both this process and the remote test user can write."""
    return slurm_workdir


@pytest.fixture
def remote_dir(ssh_slurm_host: SSHHost, slurm_workdir: Path) -> str:
    """The remote user's own folder for unit files (made over SSH); the shared
    `make_unit` names every unit's files there too."""
    path = str(slurm_workdir / "remote")
    ssh_slurm_host.mkdir(path)
    return path


@pytest.fixture
def task_command(slurm_workdir: Path) -> str:
    """The contract's task script, readable by the remote user."""
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} missing: no Python for the remote user")
    script = slurm_workdir / "task.py"
    script.write_text(TASK_SCRIPT)
    script.chmod(0o644)
    return f"{SYSTEM_PYTHON} {script}"


@pytest.fixture
def ssh_executor_factory(
    slurm_executor_factory: ExecutorFactory,
    ssh_slurm_host: SSHHost,
    slurm_workdir: Path,
) -> Callable[[], Executor]:
    """`SlurmExecutor`s on the SSH host (own watchers), submission folders remote."""

    def make() -> Executor:
        return slurm_executor_factory(
            ssh_slurm_host, workdir=slurm_workdir / "remote" / "slurm"
        )

    return make


@pytest.fixture
def executor(
    ssh_executor_factory: Callable[[], Executor], remote_dir: str
) -> Iterator[Executor]:
    """A fresh `SlurmExecutor` over SSH (the contract's `executor` fixture)."""
    instance = ssh_executor_factory()
    yield instance
    instance.shutdown(cancel=True)


@pytest.fixture
def new_executor(
    ssh_executor_factory: Callable[[], Executor],
) -> Callable[[], Executor]:
    """More executors over SSH, for `attach`."""
    return ssh_executor_factory


def test_every_contract_case_is_imported() -> None:
    """A case added to the contract must be added here too."""
    from .. import test_contract

    names = {n for n in dir(test_contract) if n.startswith("test_")}
    assert names <= set(globals()), sorted(names - set(globals()))


def test_unit_files_travel_by_tar_and_outputs_come_back(
    executor: Executor, make_unit: Any, ssh_slurm_host: SSHHost, remote_dir: str
) -> None:
    """Args files reach the remote folder; outputs and logs come back here."""
    units = [make_unit(f"t{i}", {"output": {"i": i}}) for i in range(6)]
    handle = executor.submit(units)
    assert handle.wait(120)
    results = handle.results()
    assert [results[u.id].output for u in units] == [{"i": i} for i in range(6)]
    for unit in units:
        remote_args = ssh_slurm_host.read_text(f"{remote_dir}/{unit.id}-args.json")
        assert remote_args == unit.args_file.read_text()
        assert json.loads(unit.output_file.read_text()) == results[unit.id].output
        assert "hello from stderr" in unit.log_file.read_text()
