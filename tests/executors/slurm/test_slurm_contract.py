"""The executor contract suite, unchanged, on `SlurmExecutor` (real cluster).

The contract's test functions are imported as they are; this module only
provides the two fixtures they take from the contract's `FACTORIES` table
(`executor` and `new_executor`), here a `SlurmExecutor` on the test cluster
as the current user (`LocalHost`), sharing `tmp_path` with `make_unit`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator

import pytest

from fractal_core.executors import Executor

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


@pytest.fixture
def executor(slurm_executor_factory: ExecutorFactory) -> Iterator[Executor]:
    """A fresh `SlurmExecutor` (the contract's `executor` fixture)."""
    instance = slurm_executor_factory()
    yield instance
    instance.shutdown(cancel=True)


@pytest.fixture
def new_executor(
    slurm_executor_factory: ExecutorFactory,
) -> Callable[[], Executor]:
    """More executors of the same kind, for `attach` (own watchers)."""
    return slurm_executor_factory


def test_every_contract_case_is_imported() -> None:
    """A case added to the contract must be added here too."""
    from .. import test_contract

    names = {n for n in dir(test_contract) if n.startswith("test_")}
    assert names <= set(globals()), sorted(names - set(globals()))
