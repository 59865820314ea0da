"""`run --executor local|slurm`: the options of each executor and building it.

The SLURM executor submits from this machine, as the current user or, with
`--sudo-user`, as another user through `sudo -n -u USER`; its resource (the
partition, memory, batching...) comes from a JSON file with the fields of
`SlurmResourceConfig`, or a small default on `--slurm-partition`.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..executors.local import LocalExecutor
from ..executors.slurm import SlurmExecutor
from ..executors.slurm import SlurmResourceConfig
from ..executors.slurm import default_resource
from ..hosts import LocalHost
from ..hosts import SudoHost
from ._common import UsageError
from ._common import absolute_path

__all__ = ["add_executor_options", "make_executor"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """The `--executor` choice and the options of each executor."""
    p.add_argument("--executor", choices=["local", "slurm"], default="local")
    p.add_argument(
        "--max-workers", type=int, default=None, help="local: parallel units"
    )
    slurm = p.add_argument_group("SLURM (with --executor slurm)")
    slurm.add_argument(
        "--slurm-config",
        metavar="FILE",
        help="JSON file with SlurmResourceConfig fields "
        "(default_slurm_config, gpu_slurm_config, batching_config, ...)",
    )
    slurm.add_argument(
        "--slurm-partition", help="without --slurm-config: a small default on it"
    )
    slurm.add_argument(
        "--slurm-workdir",
        metavar="DIR",
        help="folder for sbatch scripts and unit files, seen by the submitting "
        "user and the compute nodes (default: JOB_DIR/slurm)",
    )
    slurm.add_argument("--sudo-user", help="submit and run as this user (sudo -n -u)")
    slurm.add_argument(
        "--slurm-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for SLURM commands, e.g. SLURM_CONF=/etc/slurm/slurm.conf",
    )
    slurm.add_argument(
        "--slurm-poll", type=float, default=2.0, help="seconds between queue polls"
    )


def _slurm_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _ENV_NAME.fullmatch(name):
            raise UsageError(f"--slurm-env {pair!r}: expected NAME=VALUE.")
        env[name] = value
    return env


def _slurm_resource(args: argparse.Namespace) -> SlurmResourceConfig:
    if args.slurm_config and args.slurm_partition:
        raise UsageError("give --slurm-config or --slurm-partition, not both.")
    if args.slurm_partition:
        return default_resource(args.slurm_partition)
    if not args.slurm_config:
        raise UsageError("--executor slurm needs --slurm-config or --slurm-partition.")
    path = absolute_path(args.slurm_config, "--slurm-config")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SlurmResourceConfig.model_validate(data)
    except OSError as e:
        raise UsageError(f"--slurm-config {str(path)!r}: {e.strerror}.") from e
    except (ValueError, ValidationError) as e:
        first = str(e).strip().splitlines()
        raise UsageError(
            f"--slurm-config {str(path)!r} is not a valid SLURM configuration: "
            + " ".join(first[:3])
        ) from e


def _check_local_only(args: argparse.Namespace) -> None:
    """SLURM options given with the local executor are a mistake, not ignored."""
    given = [
        flag
        for flag, value in (
            ("--slurm-config", args.slurm_config),
            ("--slurm-partition", args.slurm_partition),
            ("--slurm-workdir", args.slurm_workdir),
            ("--sudo-user", args.sudo_user),
            ("--slurm-env", args.slurm_env),
        )
        if value
    ]
    if given:
        raise UsageError(f"{', '.join(given)} need(s) --executor slurm.")


def make_executor(args: argparse.Namespace, job_dir: Path) -> Any:
    """The executor the options ask for (a context manager), checked first."""
    if args.max_workers is not None and args.max_workers < 1:
        raise UsageError(f"--max-workers {args.max_workers}: give 1 or more.")
    if args.executor == "local":
        _check_local_only(args)
        return LocalExecutor(max_workers=args.max_workers)
    if args.max_workers is not None:
        raise UsageError("--max-workers is for the local executor.")
    if args.slurm_poll <= 0:
        raise UsageError(f"--slurm-poll {args.slurm_poll}: give a positive number.")
    resource = _slurm_resource(args)
    env = _slurm_env(args.slurm_env)
    workdir = (
        absolute_path(args.slurm_workdir, "--slurm-workdir")
        if args.slurm_workdir
        else job_dir / "slurm"
    )
    host = SudoHost(args.sudo_user, env=env) if args.sudo_user else LocalHost()
    return SlurmExecutor(
        host,
        remote_workdir=str(workdir),
        resource=resource,
        slurm_env=env,
        poll_interval=args.slurm_poll,
    )
