"""The SLURM-over-SSH test rig: counting task, counting `sbatch`, connection cuts.

Counter files prove that nothing runs twice: an `sbatch` wrapper first on the
remote user's PATH appends a line per call (tests may replace it with one
that also cuts its own answer off), and each unit appends a line per run.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fractal_core.executors import WorkUnit
from fractal_core.executors.slurm import SlurmExecutor
from fractal_core.hosts import SSHHost
from tests.ssh import sshd as _sshd
from tests.ssh.fixtures import host_for

from .conftest import GUARD
from .conftest import ExecutorFactory

SYSTEM_PYTHON = "/usr/bin/python3"

# A task that appends one line per run to <runs>/<name>, then writes its output.
COUNTING_TASK = textwrap.dedent(
    """
    import argparse, json, os, time
    p = argparse.ArgumentParser()
    p.add_argument("--args-json"); p.add_argument("--out-json")
    ns = p.parse_args()
    args = json.load(open(ns.args_json))
    with open(os.path.join(args["runs"], args["name"]), "a") as f:
        f.write("run\\n")
    time.sleep(args.get("sleep", 0))
    with open(ns.out_json, "w") as f:
        json.dump({"name": args["name"], "size": len(args.get("pad", "")),
                   "pad": args.get("out_pad", "")}, f)
    """
)

SBATCH_WRAPPER = '#!/bin/sh\necho call >> "{counter}"\nexec {sbatch} "$@"\n'


class Rig:
    """Folders, counters and a unit factory for one SLURM-over-SSH test."""

    def __init__(self, root: Path, host: SSHHost, cluster_env: dict[str, str]):
        self.root = root
        self.remote = str(root / "remote")
        self.runs = root / "runs"
        self.sbatch_counter = root / "sbatch-calls"
        for folder in (root / "bin", self.runs):
            folder.mkdir()
            folder.chmod(0o777)
        self.real_sbatch = subprocess.run(
            ["sh", "-c", "command -v sbatch"], capture_output=True, text=True
        ).stdout.strip()
        self.set_sbatch(SBATCH_WRAPPER)
        self.script = root / "task.py"
        self.script.write_text(COUNTING_TASK)
        self.script.chmod(0o644)
        self.env = {**cluster_env, "PATH": f"{root / 'bin'}:/usr/bin:/bin"}
        self.endpoint_host = host
        host.mkdir(self.remote)

    def set_sbatch(self, template: str) -> None:
        """`sbatch` on PATH = `template` ({counter} {sbatch} {marker} {submitted})."""
        wrapper = self.root / "bin" / "sbatch"
        wrapper.write_text(
            template.format(
                counter=self.sbatch_counter,
                sbatch=self.real_sbatch,
                marker=self.root / "first-sbatch",
                submitted=self.root / "submitted",
            )
        )
        wrapper.chmod(0o755)

    def host(self, endpoint: _sshd.SSHEndpoint, **kwargs: Any) -> SSHHost:
        """An SSHHost whose `sbatch` is the counting wrapper."""
        return host_for(endpoint, env=self.env, **kwargs)

    def unit(self, name: str, **args: Any) -> WorkUnit:
        folder = self.root / "job"
        folder.mkdir(exist_ok=True)
        args_file = folder / f"{name}-args.json"
        args_file.write_text(json.dumps({"name": name, "runs": str(self.runs), **args}))
        return WorkUnit(
            id=name,
            command=f"{SYSTEM_PYTHON} {self.script}",
            args_file=args_file,
            output_file=folder / f"{name}-out.json",
            log_file=folder / "logs" / f"{name}-log.txt",
            args_file_remote=f"{self.remote}/{name}-args.json",
            output_file_remote=f"{self.remote}/{name}-out.json",
            log_file_remote=f"{self.remote}/logs/{name}-log.txt",
        )

    def runs_of(self, name: str) -> int:
        path = self.runs / name
        return len(path.read_text().splitlines()) if path.exists() else 0

    def sbatch_calls(self) -> int:
        path = self.sbatch_counter
        return len(path.read_text().splitlines()) if path.exists() else 0


def ssh_executor(
    factory: ExecutorFactory, rig: Rig, host: SSHHost, **kwargs: Any
) -> SlurmExecutor:
    return factory(host, workdir=rig.root / "remote" / "slurm", **kwargs)


def kill_when(server: _sshd.SSHServer, ready: Callable[[], bool]) -> list[int]:
    """Kill the sshd's connections (from a thread) once `ready()`; pids killed."""
    killed: list[int] = []

    def body() -> None:
        deadline = time.monotonic() + GUARD
        while not ready():
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)
        killed.extend(_sshd.kill_connections(server))

    threading.Thread(target=body, daemon=True).start()
    return killed
