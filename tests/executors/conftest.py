"""Fixtures for executor tests: a real task script and a factory of work units."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors import ResourceRequest
from fractal_core.executors import WorkUnit

# A tiny "task": what it does is driven by its --args-json file.
TASK_SCRIPT = textwrap.dedent(
    """
    import argparse, json, os, signal, subprocess, sys, time
    STUBBORN = (
        "import os, signal, sys, time\\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
        "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\\n"
        "os.replace(sys.argv[1] + '.tmp', sys.argv[1])\\n"
        "time.sleep(600)\\n"
    )
    parser = argparse.ArgumentParser()
    parser.add_argument("--args-json", required=True)
    parser.add_argument("--out-json", required=True)
    ns = parser.parse_args()
    if os.path.exists(ns.out_json):
        sys.exit("out-json exists already")
    args = json.load(open(ns.args_json))
    stamps = args.get("stamps")
    if stamps:
        with open(os.path.join(stamps, args["name"] + ".start"), "w") as f:
            f.write(repr(time.time()))
    if args.get("pid_file"):
        with open(args["pid_file"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(args["pid_file"] + ".tmp", args["pid_file"])
    if args.get("ignore_term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.get("child_pid_file"):
        child = subprocess.Popen(["sleep", "600"])
        with open(args["child_pid_file"] + ".tmp", "w") as f:
            f.write(str(child.pid))
        os.replace(args["child_pid_file"] + ".tmp", args["child_pid_file"])
    if args.get("orphan_pid_file"):
        # a child in the same session that ignores SIGTERM and outlives us
        subprocess.Popen([sys.executable, "-c", STUBBORN, args["orphan_pid_file"]])
        while not os.path.exists(args["orphan_pid_file"]):
            time.sleep(0.01)
    if args.get("fifo_output"):
        os.mkfifo(ns.out_json)
    if args.get("symlink_output"):
        os.symlink(args["symlink_output"], ns.out_json)
    if args.get("dir_output"):
        os.mkdir(ns.out_json)
    print("hello from stdout", flush=True)
    print("hello from stderr", file=sys.stderr, flush=True)
    if args.get("log_size"):
        sys.stderr.write("x" * args["log_size"] + "END-OF-LOG")
        sys.stderr.flush()
    time.sleep(args.get("sleep", 0))
    if stamps:
        with open(os.path.join(stamps, args["name"] + ".end"), "w") as f:
            f.write(repr(time.time()))
    if args.get("self_kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    if "raw_output" in args:
        with open(ns.out_json, "w") as f:
            f.write(args["raw_output"])
    elif "output" in args:
        with open(ns.out_json, "w") as f:
            json.dump(args["output"], f)
    elif "env_key" in args:
        with open(ns.out_json, "w") as f:
            json.dump({"value": os.environ.get(args["env_key"]),
                       "has_path": "PATH" in os.environ,
                       "cwd": os.getcwd()}, f)
    sys.exit(args.get("exit", 0))
    """
)

UnitFactory = Callable[..., WorkUnit]


@pytest.fixture
def task_command(tmp_path: Path) -> str:
    """`<python> <script>`: the command string of the test task."""
    script = tmp_path / "task.py"
    script.write_text(TASK_SCRIPT)
    return f"{sys.executable} {script}"


@pytest.fixture
def remote_dir() -> str | None:
    """The folder of unit files as the executor's host sees it; None: the
    local paths (a remote contract run overrides this fixture)."""
    return None


def _remote_files(remote_dir: str | None, name: str) -> dict[str, str]:
    """The `*_remote` fields of unit `name` under `remote_dir` (none if None)."""
    if remote_dir is None:
        return {}
    return {
        "args_file_remote": f"{remote_dir}/{name}-args.json",
        "output_file_remote": f"{remote_dir}/{name}-metadiff.json",
        "log_file_remote": f"{remote_dir}/logs/{name}-log.txt",
    }


@pytest.fixture
def make_unit(tmp_path: Path, task_command: str, remote_dir: str | None) -> UnitFactory:
    """Build a unit named `name` whose args file holds `args` (its files also
    named under `remote_dir` when that fixture gives one)."""

    def factory(
        name: str,
        args: dict[str, Any] | None = None,
        *,
        command: str | None = None,
        parallel: int | None = None,
        env: dict[str, str] | None = None,
        workdir: Path | None = None,
        time_limit: float | None = None,
    ) -> WorkUnit:
        folder = tmp_path / "job"
        folder.mkdir(exist_ok=True)
        args_file = folder / f"{name}-args.json"
        args_file.write_text(json.dumps({"name": name, **(args or {})}))
        return WorkUnit(
            id=name,
            command=task_command if command is None else command,
            args_file=args_file,
            output_file=folder / f"{name}-metadiff.json",
            log_file=folder / "logs" / f"{name}-log.txt",
            **_remote_files(remote_dir, name),
            resources=ResourceRequest(
                parallel_tasks_per_job=parallel, time_limit_s=time_limit
            ),
            env=env or {},
            workdir=workdir,
        )

    return factory


def wait_for_file(path: Path, timeout: float = 30.0) -> str:
    """The file's text once it exists (a hang guard, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def gone(pid: int, timeout: float = 30.0) -> bool:
    """True once `pid` no longer runs (absent, or a zombie nobody reaped yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def session_left(native_id: str | None) -> list[int]:
    """Live processes still in the session of a unit's leader (pid = session id)."""
    assert native_id is not None and native_id.isdigit()
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[3]) == int(native_id):
            left.append(int(entry.name))
    return left
