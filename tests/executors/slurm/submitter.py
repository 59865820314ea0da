"""A submitting process to kill: the reattach tests' "restart" of the embedding server.

`submitter(...)` starts `python -m tests.executors.slurm.submitter SPEC` in
a new process, which submits the units with a `SlurmExecutor` (on `LocalHost`,
or on an `SSHHost` when an endpoint is given), writes the handle's snapshot
atomically and sleeps. The context manager yields that snapshot once it is
written and SIGKILLs the process when the block ends, so the test decides when
the "crash" happens (e.g. once a unit has started).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fractal_core.executors import WorkUnit
from fractal_core.executors.slurm import SlurmExecutor
from fractal_core.hosts import LocalHost
from fractal_core.hosts import SSHHost
from fractal_core.hosts.base import Host

from ..conftest import wait_for_file
from .conftest import GUARD
from .conftest import small_resource

_UNIT_FIELDS = (
    "id",
    "command",
    "args_file",
    "output_file",
    "log_file",
    "args_file_remote",
    "output_file_remote",
    "log_file_remote",
)
REPO_ROOT = Path(__file__).parents[3]


def _unit_spec(unit: WorkUnit) -> dict[str, str | None]:
    """The JSON form of a unit (paths as strings)."""
    out: dict[str, str | None] = {}
    for name in _UNIT_FIELDS:
        value = getattr(unit, name)
        out[name] = None if value is None else str(value)
    return out


@contextlib.contextmanager
def submitter(
    units: Sequence[WorkUnit],
    *,
    folder: Path,
    workdir: str,
    env: Mapping[str, str],
    endpoint: Any = None,
) -> Iterator[dict[str, Any]]:
    """Submit `units` from another process; yield its snapshot; SIGKILL it after."""
    spec = {
        "units": [_unit_spec(u) for u in units],
        "workdir": workdir,
        "env": dict(env),
        "snapshot": str(folder / "snapshot.json"),
        "endpoint": None if endpoint is None else dataclasses.asdict(endpoint),
    }
    spec_file = folder / "submitter-spec.json"
    spec_file.write_text(json.dumps(spec))
    pythonpath = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.executors.slurm.submitter", str(spec_file)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    try:
        yield json.loads(wait_for_file(folder / "snapshot.json", GUARD))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _host(spec: Mapping[str, Any]) -> Host:
    endpoint = spec["endpoint"]
    if endpoint is None:
        return LocalHost()
    return SSHHost(
        endpoint["host"],
        endpoint["user"],
        port=endpoint["port"],
        key_path=endpoint["key_path"],
        env=spec["env"],
    )


def main(spec_file: str) -> None:
    """Submit, write the snapshot atomically, then wait to be killed."""
    spec = json.loads(Path(spec_file).read_text())
    units = [
        WorkUnit(
            id=u["id"],
            command=u["command"],
            args_file=Path(u["args_file"]),
            output_file=Path(u["output_file"]),
            log_file=Path(u["log_file"]),
            args_file_remote=u["args_file_remote"],
            output_file_remote=u["output_file_remote"],
            log_file_remote=u["log_file_remote"],
        )
        for u in spec["units"]
    ]
    executor = SlurmExecutor(
        _host(spec),
        remote_workdir=spec["workdir"],
        resource=small_resource(),
        slurm_env=spec["env"],
        poll_interval=0.2,
    )
    handle = executor.submit(units)
    tmp = spec["snapshot"] + ".tmp"
    Path(tmp).write_text(json.dumps(handle.snapshot()))
    os.replace(tmp, spec["snapshot"])
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1])
