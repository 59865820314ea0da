"""`SlurmExecutor`: units of work packed into SLURM jobs, through a `Host`.

The SLURM logic lives here once; how commands run and files move is the
host's business (`LocalHost`: this machine as the current user; `SudoHost`:
this machine as another user; `SSHHost`: a remote login node). Per submission:

1. every unit's command is checked on the host (forbidden characters, an
   executable first word): refused units fail `INVALID_COMMAND` at once;
2. units are grouped by their resources and each group is planned into SLURM
   jobs (`slurm_config_for` + `plan_batches`, the reference's heuristics);
3. a submission folder `<remote_workdir>/<handle id>/` receives one sbatch
   script per job and a `status/` folder where each unit's wrapper
   (`worker.py`) records its start and exit status; args files are copied to
   the host first when the host sees them under other paths (one transfer
   per folder: a tar stream over SSH);
4. `sbatch --parsable --comment=<token>` runs once per job; the job ids
   become the units' native ids and are handed to the host's shared
   `SlurmWatcher`. When sbatch's answer is lost to the transport, the token
   is looked up in the queue, then the job's start marker (which the script
   writes first, `<submission folder>/<token>.started`) is checked, before
   anything is submitted again (`submission.py`).

How units are judged, cancelled and snapshotted is `handle.py`; moving unit
files to and from the host is `transfer.py`; `SlurmExecutor.attach` resumes
watching a snapshot in a new process (`attach.py`).
"""

from __future__ import annotations

import json
import logging
import math
import posixpath
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from ...hosts.base import Host
from ...hosts.base import HostError
from .._board import executor_errors
from .._unit import InvalidCommand
from .._unit import failed
from .._unit import split_command
from ..base import ExecutorCapabilities
from ..base import ExecutorError
from ..base import FailureKind
from ..base import WorkUnit
from .attach import handle_from_snapshot
from .batching import plan_batches
from .config import SlurmBatchingConfig
from .config import SlurmConfig
from .config import SlurmOptions
from .config import SlurmResourceConfig
from .config import slurm_config_for
from .handle import COMMAND_TIMEOUT
from .handle import EXECUTOR_KIND
from .handle import SlurmHandle
from .script import SlurmJobSpec
from .script import sbatch_script
from .submission import LostSubmission
from .submission import Sbatch
from .submission import marker_path
from .submission import new_token
from .transfer import send_args_files
from .watcher import SlurmWatcher
from .watcher import watcher_for
from .worker import unit_argv

logger = logging.getLogger(__name__)


def default_resource(partition: str) -> SlurmResourceConfig:
    """A small default: 1 CPU and 1000 MB per unit, up to 2 units per job."""
    return SlurmResourceConfig(
        default_slurm_config=SlurmOptions(
            partition=partition, cpus_per_task=1, mem=1000
        ),
        batching_config=SlurmBatchingConfig(
            target_num_jobs=10,
            max_num_jobs=100,
            target_cpus_per_job=2,
            max_cpus_per_job=8,
            target_mem_per_job=2000,
            max_mem_per_job=16000,
        ),
    )


class SlurmExecutor:
    """Run units as SLURM jobs through `host` (see the module doc).

    - `remote_workdir`: a folder on the host, writable by the host's user, for
      the submission folders (scripts, unit records, SLURM's out/err files).
    - `resource`: the resource's SLURM settings; None = `default_resource` on
      the cluster's default partition (asked once with `sinfo`).
    - `slurm_env`: environment for the SLURM commands (e.g. `SLURM_CONF`).
    - `poll_interval`: seconds between queue polls of the shared watcher
      (when this executor creates it); `watcher`: use this one instead.
    - `cancel_grace`: seconds between SIGTERM and SIGKILL when a unit's own
      time limit stops it.
    - `env`: environment added to every unit (before `unit.env`).
    - `slurm_account`, `worker_init`: the job's account and extra script
      lines (highest priority, as in the reference).
    - `jobcomp_file`: the cluster's jobcomp/filetxt file, a last source of
      final states.
    - `lost_sbatch_timeout`: seconds to keep asking the queue for a job whose
      sbatch answer was lost before its units fail (`submission.py`).
    """

    def __init__(
        self,
        host: Host,
        *,
        remote_workdir: str,
        resource: SlurmResourceConfig | None = None,
        slurm_env: Mapping[str, str] | None = None,
        poll_interval: float = 2.0,
        watcher: SlurmWatcher | None = None,
        cancel_grace: float = 2.0,
        env: Mapping[str, str] | None = None,
        slurm_account: str | None = None,
        worker_init: str | None = None,
        jobcomp_file: str | None = None,
        lost_sbatch_timeout: float = 300.0,
    ) -> None:
        if not posixpath.isabs(remote_workdir):
            raise ExecutorError(
                f"Invalid remote_workdir={remote_workdir!r}: expected an absolute path."
            )
        self.host = host
        self.remote_workdir = remote_workdir
        self._resource = resource
        self.slurm_env = dict(slurm_env or {})
        self.watcher = watcher or watcher_for(
            host, env=self.slurm_env, interval=poll_interval, jobcomp_file=jobcomp_file
        )
        self.cancel_grace = cancel_grace
        self.env = dict(env or {})
        self.slurm_account = slurm_account
        self.worker_init = worker_init
        self._lock = threading.Lock()
        self._handles: list[SlurmHandle] = []
        self._last: SlurmHandle | None = None
        self._shut = False
        self.sbatch_calls = 0
        self._sbatch = Sbatch(
            host,
            self.slurm_env,
            COMMAND_TIMEOUT,
            lost_timeout=lost_sbatch_timeout,
            on_call=self._count_sbatch,
        )

    def _count_sbatch(self) -> None:
        with self._lock:
            self.sbatch_calls += 1

    # -- the Executor protocol ---------------------------------------------------

    @property
    def capabilities(self) -> ExecutorCapabilities:
        return ExecutorCapabilities(
            cancel_running=True, time_limit=True, attach=True, concurrent=True
        )

    @property
    def executor_error_log(self) -> str | None:
        handle = self._last
        if handle is None:
            return None
        parts = list(handle.submit_errors)
        others = executor_errors(handle)
        if others:
            parts.append(others)
        return "\n".join(parts) if parts else None

    @property
    def resource(self) -> SlurmResourceConfig:
        """The SLURM settings in use (the default one is built on first use)."""
        if self._resource is None:
            self._resource = default_resource(self._default_partition())
        return self._resource

    def _default_partition(self) -> str:
        result = self._run(["sinfo", "-h", "-o", "%P"])
        names = result.stdout.split()
        for name in names:
            if name.endswith("*"):
                return name[:-1]
        if names:
            return names[0]
        raise ExecutorError("sinfo lists no partition: pass resource= explicitly.")

    def _run(self, argv: list[str]) -> Any:
        try:
            return self.host.run(argv, env=self.slurm_env, timeout=COMMAND_TIMEOUT)
        except HostError as exc:
            raise ExecutorError(f"{argv[0]} failed on the host: {exc}") from exc

    def submit(self, units: Sequence[WorkUnit]) -> SlurmHandle:
        """Plan, write and submit the SLURM jobs of `units`; return at once."""
        units = list(units)
        seen: set[str] = set()
        for unit in units:
            if unit.id in seen:
                raise ExecutorError(f"Duplicate unit id {unit.id!r} in one submission.")
            seen.add(unit.id)
        with self._lock:
            if self._shut:
                raise ExecutorError("SlurmExecutor is shut down: submission refused.")
        handle = SlurmHandle(
            units,
            host=self.host,
            slurm_env=self.slurm_env,
            watcher=self.watcher,
            submission_dir="",
        )
        handle.submission_dir = posixpath.join(self.remote_workdir, handle.id)
        handle.status_dir = posixpath.join(handle.submission_dir, "status")
        with self._lock:
            self._last = handle
            self._handles.append(handle)
        argvs = self._check_commands(handle, units)
        if argvs:
            self._submit_jobs(handle, units, argvs)
        return handle

    def _check_commands(
        self, handle: SlurmHandle, units: list[WorkUnit]
    ) -> dict[int, list[str]]:
        """Split and check each command on the host; refused units fail now."""
        known: dict[str, bool] = {}

        def check(program: str) -> bool:
            if program not in known:
                known[program] = self._is_executable(program)
            return known[program]

        argvs: dict[int, list[str]] = {}
        for index, unit in enumerate(units):
            try:
                argvs[index] = split_command(unit.command, executable_check=check)
            except InvalidCommand as exc:
                handle._finish(
                    index, failed(unit, FailureKind.INVALID_COMMAND, str(exc))
                )
        return argvs

    def _is_executable(self, program: str) -> bool:
        if "/" in program:
            argv = ["test", "-f", program, "-a", "-x", program]
        else:
            argv = ["sh", "-c", 'command -v -- "$1" >/dev/null', "sh", program]
        try:
            return self.host.run(argv, timeout=COMMAND_TIMEOUT).ok
        except HostError as exc:  # the host is unreachable: not the command's fault
            raise ExecutorError(
                f"Cannot check the program {program!r} on the host: {exc}"
            ) from exc

    def _groups(
        self, units: list[WorkUnit], indices: list[int]
    ) -> list[tuple[dict[str, Any], list[int]]]:
        """Units with the same resources go together (submission order kept)."""
        groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
        for index in indices:
            res = units[index].resources
            meta = dict(res.meta)
            parallel = res.parallel_tasks_per_job
            if meta.get("tasks_per_job") is None:
                if meta.get("parallel_tasks_per_job") is not None:
                    parallel = meta["parallel_tasks_per_job"]
                if parallel is not None:
                    meta["parallel_tasks_per_job"] = parallel
                    meta["tasks_per_job"] = -1  # filled in below: the whole group
            key = json.dumps(meta, sort_keys=True, default=str)
            groups.setdefault(key, (meta, []))[1].append(index)
        out = []
        for meta, members in groups.values():
            if meta.get("tasks_per_job") == -1:
                meta["tasks_per_job"] = len(members)
            out.append((meta, members))
        return out

    def _submit_jobs(
        self, handle: SlurmHandle, units: list[WorkUnit], argvs: dict[int, list[str]]
    ) -> None:
        host = self.host
        plans: list[tuple[SlurmConfig, list[int]]] = []
        for meta, members in self._groups(units, sorted(argvs)):
            config = slurm_config_for(
                self.resource,
                meta,
                which="parallel" if len(members) > 1 else "non_parallel",
                tot_tasks=len(members),
                slurm_account=self.slurm_account,
                worker_init=self.worker_init,
            )
            for batch in plan_batches(len(members), config):
                plans.append((config, [members[i] for i in batch]))
        try:
            host.mkdir(handle.status_dir)
            folders = {
                posixpath.dirname(p)
                for i in argvs
                for p in (units[i].log_file_on_host, units[i].output_file_on_host)
            }
            for folder in sorted(folders):
                host.mkdir(folder)
            send_args_files(host, [units[i] for i in argvs])
        except (HostError, OSError) as exc:
            raise ExecutorError(
                f"Cannot prepare the submission folder {handle.submission_dir}: {exc}"
            ) from exc
        submitted: list[str] = []
        for number, (config, members) in enumerate(plans):
            job_id = self._submit_one(handle, units, argvs, config, members, number)
            if job_id is not None:
                submitted.append(job_id)
        if submitted:
            self.watcher.watch(submitted, handle)

    def _submit_one(
        self,
        handle: SlurmHandle,
        units: list[WorkUnit],
        argvs: dict[int, list[str]],
        config: SlurmConfig,
        members: list[int],
        number: int,
    ) -> str | None:
        commands = []
        for index in members:
            unit = units[index]
            limit = unit.resources.time_limit_s
            handle._set_limit(index, limit)
            task_argv = [
                *argvs[index],
                "--args-json",
                unit.args_file_on_host,
                "--out-json",
                unit.output_file_on_host,
            ]
            commands.append(
                unit_argv(
                    task_argv,
                    status_dir=handle.status_dir,
                    index=index,
                    log_file=unit.log_file_on_host,
                    workdir=None if unit.workdir is None else str(unit.workdir),
                    time_limit_s=limit,
                    kill_grace_s=self.cancel_grace,
                    env={**self.env, **unit.env},
                )
            )
        parallel = min(len(members), config.parallel_tasks_per_job or 1)
        config = self._with_job_time(config, units, members, parallel)
        base = posixpath.join(handle.submission_dir, f"job-{number}")
        token = new_token()
        marker = marker_path(handle.submission_dir, token)
        spec = SlurmJobSpec(
            name=config.job_name or f"fractal-{handle.id[:8]}-{number}",
            config=config,
            commands=commands,
            log_out=f"{base}-%j.out",
            log_err=f"{base}-%j.err",
            workdir=handle.submission_dir,
            parallel=parallel,
            marker=marker,
        )
        handle._lost[token] = list(members)  # id unknown until sbatch answers
        try:
            self.host.write_text(f"{base}.sh", sbatch_script(spec))
            job_id = self._sbatch.submit(f"{base}.sh", token, marker)
        except (ExecutorError, HostError, ValueError) as exc:
            if not isinstance(exc, LostSubmission):
                handle._lost.pop(token, None)  # surely not submitted
            self._fail_job(handle, units, members, number, exc)
            return None
        handle._lost.pop(token, None)
        handle._add_job(job_id, members, f"{base}-{job_id}.err", token)
        logger.debug("SLURM job %s: units %s", job_id, members)
        if handle.cancelled:  # cancel() ran while sbatch was under way
            handle.scancel([job_id])
        return job_id

    @staticmethod
    def _fail_job(
        handle: SlurmHandle,
        units: list[WorkUnit],
        members: list[int],
        number: int,
        exc: Exception,
    ) -> None:
        """The units of a job that was not (or maybe not) submitted fail now."""
        what = "maybe submitted" if isinstance(exc, LostSubmission) else "not submitted"
        message = f"SLURM job {number} of handle {handle.id} {what}: {exc}"
        logger.error("%s", message)
        handle.submit_errors.append(message)
        for index in members:
            handle._finish(
                index, failed(units[index], FailureKind.EXECUTOR_ERROR, message)
            )

    @staticmethod
    def _with_job_time(
        config: SlurmConfig, units: list[WorkUnit], members: list[int], parallel: int
    ) -> SlurmConfig:
        """A job time from the units' own limits when the config sets none.

        Units queue inside a job, so the job may run ceil(units / slots)
        times the longest unit limit (plus a minute for start and wrap-up).
        """
        if config.time is not None:
            return config
        limits = [units[i].resources.time_limit_s for i in members]
        if any(limit is None for limit in limits):
            return config
        waves = math.ceil(len(members) / parallel)
        seconds = waves * (max(limit or 0 for limit in limits) + 30) + 60
        return config.model_copy(update={"time": str(math.ceil(seconds / 60))})

    def shutdown(self, *, cancel: bool = False) -> None:
        """Refuse new work; cancel open units (`cancel=True`) or wait for them."""
        with self._lock:
            self._shut = True
            handles = list(self._handles)
        for handle in handles:
            if cancel:
                handle.cancel()
            else:
                handle.wait()

    def attach(self, state: Mapping[str, Any]) -> SlurmHandle:
        """Resume watching a submission from `snapshot()` (e.g. in a new process)."""
        with self._lock:
            if self._shut:
                raise ExecutorError("SlurmExecutor is shut down: attach refused.")
        handle = handle_from_snapshot(state, self)
        with self._lock:
            self._handles.append(handle)
        return handle

    def __enter__(self) -> SlurmExecutor:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.shutdown(cancel=exc_type is not None)


def wait_all(handles: Sequence[SlurmHandle], timeout: float | None = None) -> bool:
    """Wait for several handles (a convenience for benchmarks and tests)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for handle in handles:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not handle.wait(remaining):
            return False
    return True


__all__ = [
    "COMMAND_TIMEOUT",
    "EXECUTOR_KIND",
    "SlurmExecutor",
    "SlurmHandle",
    "default_resource",
    "wait_all",
]
