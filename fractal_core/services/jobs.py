"""Jobs: submission with the reference's ordered checks, reads, and stop
(spec §10).

`submit_job` checks (in the reference's order), writes the `Job` record with
its dumps, its folder and the task groups' "last used" time in ONE
transaction (the store's one-submitted-job-per-dataset constraint decides
races between processes), then starts the engine (`fractal_core.engine.
submit_job`) with the store as recorder and returns the `JobHandle`. When
the job ends, its final status, log and timestamps are written back to the
stored job, where any other process can read them.

`request_stop` cancels a job run by this process directly (its handle is in
a `JobRegistry`) and, for a job run by another process, writes the
reference's `shutdown` file into the job folder; the process running the job
watches for that file and cancels the job when it appears.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.dataset import Dataset
from ..domain.job import Job
from ..domain.job import JobCreate
from ..domain.job import JobStatus
from ..domain.project import Project
from ..domain.task_group import TaskGroup
from ..domain.workflow import Workflow
from ..engine.control import EventKind
from ..engine.control import JobEvent
from ..engine.control import Listener
from ..engine.control import TaskProgress
from ..engine.errors import InvalidTaskRange
from ..engine.handle import JobHandle
from ..engine.handle import submit_job as _engine_submit_job
from ..engine.recorder import HistoryStatus
from ..engine.recovery import RecoveredJob
from ..engine.recovery import recover_orphaned_job
from ..engine.runner import EngineSettings
from ..engine.runner import set_start_and_last_task_index
from ..engine.task_files import WORKFLOW_LOG_FILENAME
from ..engine.task_files import job_folder_path
from ..executors.base import Executor
from ..io.matching import Ownership
from ..repository.base import ConflictError
from ..repository.base import NotFoundError
from ..repository.base import Store
from ..repository.base import UnitOfWork
from . import _lookup
from ._inputs import as_mapping
from ._inputs import refuse_nul
from .errors import DatasetBusyError
from .errors import EmptyWorkflowError
from .errors import InvalidTaskRangeError
from .errors import JobNotRunningError
from .errors import ResourceMismatchError
from .errors import SlurmAccountError
from .workflow_tasks import check_type_filters
from .workflow_tasks import usable_task

__all__ = [
    "DEFAULT_REGISTRY",
    "SHUTDOWN_FILENAME",
    "JobRegistry",
    "get_job",
    "job_progress",
    "latest_job",
    "list_jobs",
    "recover_jobs",
    "request_stop",
    "submit_job",
]

logger = logging.getLogger(__name__)

SHUTDOWN_FILENAME = "shutdown"
# Seconds `request_stop` waits for the folder of a job that was just submitted.
FOLDER_WAIT = 10.0
"""The file whose presence in a job folder asks its process to stop the job."""


def _store_identity(store: Store) -> Hashable:
    """The database a store object opens: its URL for SQL stores (two objects on
    one file are one database), the object itself for in-memory stores."""
    url = getattr(store, "url", None)
    if url is not None:
        render = getattr(url, "render_as_string", None)
        return ("url", render(hide_password=False) if render else str(url))
    return ("object", id(store))


class JobRegistry:
    """Handles of the jobs this process runs, by (store, job id); thread-safe.

    Finished jobs are pruned on every access (the reference's
    `clean_app_job_list`), so the registry never grows with old jobs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: dict[tuple[Hashable, int], JobHandle] = {}

    def add(self, store: Store, job_id: int, handle: JobHandle) -> None:
        with self._lock:
            self._prune()
            self._handles[(_store_identity(store), job_id)] = handle

    def get(self, store: Store, job_id: int) -> JobHandle | None:
        """The running job's handle, None if not run here or already ended."""
        with self._lock:
            self._prune()
            return self._handles.get((_store_identity(store), job_id))

    def running(self) -> list[JobHandle]:
        with self._lock:
            self._prune()
            return list(self._handles.values())

    def _prune(self) -> None:
        for key in [k for k, h in self._handles.items() if h.done()]:
            del self._handles[key]


DEFAULT_REGISTRY = JobRegistry()
"""The registry `submit_job` and `request_stop` use unless given another."""


@dataclass(frozen=True)
class _Checked:
    """What the checks found: the objects to dump and run, the slice, the groups."""

    project: Project
    workflow: Workflow
    dataset: Dataset
    first: int
    last: int
    groups: list[TaskGroup]
    slurm_account: str | None


def _check_submission(
    uow: UnitOfWork,
    project_id: int,
    workflow_id: int,
    dataset_id: int,
    request: JobCreate,
    *,
    resource_id: int | None,
    ownership: Ownership | None,
    slurm_accounts: Sequence[str],
) -> _Checked:
    """The reference's ordered checks (spec §10.1); the first failing one wins."""
    project = _lookup.get_project(uow, project_id)
    dataset = _lookup.get_dataset(uow, project_id, dataset_id, with_images=True)
    if resource_id is not None and project.resource_id not in (None, resource_id):
        raise ResourceMismatchError(resource_id, project.resource_id, "Project")
    workflow = _lookup.get_workflow(uow, project_id, workflow_id)
    if not workflow.task_list:
        raise EmptyWorkflowError(workflow_id)
    num_tasks = len(workflow.task_list)
    try:
        first, last = set_start_and_last_task_index(
            num_tasks, request.first_task_index, request.last_task_index
        )
    except InvalidTaskRange as error:
        raise InvalidTaskRangeError(
            num_tasks, request.first_task_index, request.last_task_index, str(error)
        ) from error
    groups: dict[int, TaskGroup] = {}
    linked = []
    for position, wftask in enumerate(workflow.task_list):
        if not first <= position <= last:
            linked.append(wftask)
            continue
        assert wftask.task_id is not None
        task = usable_task(
            uow, wftask.task_id, ownership=ownership, resource_id=resource_id
        )
        check_type_filters(task, wftask.type_filters)
        group = _lookup.group_of(uow, task)
        if group is not None and group.id is not None:
            groups.setdefault(group.id, group)
        linked.append(wftask.model_copy(update={"task": task}))
    busy = _lookup.submitted_job_ids(uow, dataset_id=dataset_id)
    if busy:
        raise DatasetBusyError(dataset_id, busy)
    account = request.slurm_account
    if account is not None and account not in slurm_accounts:
        raise SlurmAccountError(account, slurm_accounts)
    if account is None and slurm_accounts:
        account = slurm_accounts[0]
    return _Checked(
        project=project,
        workflow=workflow.model_copy(update={"task_list": linked}),
        dataset=dataset,
        first=first,
        last=last,
        groups=list(groups.values()),
        slurm_account=account,
    )


def _write_job(
    uow: UnitOfWork,
    checked: _Checked,
    request: JobCreate,
    *,
    jobs_dir: Path,
    user_email: str | None,
) -> Job:
    """Add the job, set its folder, mark its task groups used; not committed."""
    fields: dict[str, Any] = {
        "user_email": user_email,
        "slurm_account": checked.slurm_account,
        "attribute_filters": request.attribute_filters,
        "type_filters": request.type_filters,
    }
    if request.worker_init is not None:
        fields["worker_init"] = request.worker_init
    draft = Job.for_submission(
        project=checked.project,
        workflow=checked.workflow,
        dataset=checked.dataset,
        first_task_index=checked.first,
        last_task_index=checked.last,
        **fields,
    )
    try:
        job = uow.jobs.add(draft)
    except ConflictError as error:
        dataset_id = checked.dataset.id
        assert dataset_id is not None
        raise DatasetBusyError(
            dataset_id, _lookup.submitted_job_ids(uow, dataset_id=dataset_id)
        ) from error
    assert job.id is not None and checked.project.id is not None
    assert checked.workflow.id is not None
    folder = str(
        job_folder_path(
            jobs_dir,
            project_id=checked.project.id,
            workflow_id=checked.workflow.id,
            job_id=job.id,
            start=job.start_timestamp,
        )
    )
    job = job.model_copy(update={"working_dir": folder, "working_dir_user": folder})
    uow.jobs.update(job)
    for group in checked.groups:
        uow.task_groups.update(
            group.model_copy(update={"timestamp_last_used": job.start_timestamp})
        )
    return job


def _store_end(store: Store, job: Job) -> None:
    """Write the engine's final state of `job` into the stored job."""
    with store.unit_of_work() as uow:
        stored = uow.jobs.get(job.id)  # type: ignore[arg-type]
        uow.jobs.update(
            stored.model_copy(
                update={
                    "status": job.status,
                    "log": job.log,
                    "end_timestamp": job.end_timestamp,
                    "executor_error_log": job.executor_error_log,
                    "working_dir": job.working_dir or stored.working_dir,
                    "working_dir_user": job.working_dir_user or stored.working_dir_user,
                }
            )
        )
        uow.commit()


def _fail_unstarted(store: Store, job: Job, error: BaseException) -> None:
    """Mark a job `failed` when the engine refused to start it (or Ctrl-C hit).

    The reason names the exception class: `str(KeyboardInterrupt())` is empty.
    """
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    job.finish(JobStatus.FAILED, log=f"Job {job.id} could not start: {reason}")
    _store_end(store, job)


def _watch_shutdown_file(handle: JobHandle, folder: Path, poll_interval: float) -> None:
    """Cancel `handle`'s job when `<folder>/shutdown` appears (until it ends)."""
    marker = folder / SHUTDOWN_FILENAME
    while not handle.wait(poll_interval):
        if marker.exists():
            try:
                lines = marker.read_text().splitlines()
            except OSError:
                lines = []
            reason = lines[1] if len(lines) > 1 else "stop requested"
            logger.info("Job %s: shutdown file found, cancelling", handle.id)
            handle.cancel(reason)
            return


def submit_job(
    store: Store,
    project_id: int,
    workflow_id: int,
    dataset_id: int,
    request: JobCreate | Mapping[str, Any] | None = None,
    *,
    executor: Executor,
    jobs_dir: str | Path,
    user_email: str | None = None,
    resource_id: int | None = None,
    ownership: Ownership | None = None,
    slurm_accounts: Sequence[str] = (),
    settings: EngineSettings | None = None,
    project_dirs: Sequence[str] | None = None,
    timeout: float | None = None,
    on_event: Listener | None = None,
    registry: JobRegistry | None = None,
    stop_poll_interval: float = 1.0,
) -> JobHandle:
    """Check, record and start a job; return its handle at once.

    Refusals (spec §10.1, in order): request validation, dataset and
    workflow under the project, the project's resource, an empty workflow,
    the task slice, each task of the slice (found, accessible, active, type
    filters), a `submitted` job on the dataset, the SLURM account. Nothing is
    written when a check fails.
    """
    refuse_nul(request=request)
    if request is None:
        request = JobCreate()
    elif not isinstance(request, JobCreate):
        request = JobCreate.model_validate(as_mapping("request", request))
    with store.unit_of_work() as uow:
        checked = _check_submission(
            uow,
            project_id,
            workflow_id,
            dataset_id,
            request,
            resource_id=resource_id,
            ownership=ownership,
            slurm_accounts=slurm_accounts,
        )
        job = _write_job(
            uow, checked, request, jobs_dir=Path(jobs_dir), user_email=user_email
        )
        uow.commit()
    running = job.model_copy(deep=True)

    def on_end(event: JobEvent) -> None:
        if event.kind is EventKind.JOB_ENDED:
            _store_end(store, running)

    try:
        handle = _engine_submit_job(
            workflow=checked.workflow,
            dataset=checked.dataset,
            executor=executor,
            working_dir=Path(job.working_dir or ""),
            job_id=job.id,
            job=running,
            recorder=store.recorder(),
            first_task_index=checked.first,
            last_task_index=checked.last,
            type_filters=request.type_filters,
            attribute_filters=request.attribute_filters,
            settings=settings,
            project_dirs=project_dirs,
            timeout=timeout,
            on_event=on_end,
        )
    except BaseException as error:
        _fail_unstarted(store, running, error)
        raise
    if on_event is not None:
        handle.add_callback(on_event)
    (registry or DEFAULT_REGISTRY).add(store, job.id, handle)  # type: ignore[arg-type]
    threading.Thread(
        target=_watch_shutdown_file,
        args=(handle, Path(job.working_dir or ""), stop_poll_interval),
        name=f"fractal-job-{job.id}-stop-watch",
        daemon=True,
    ).start()
    return handle


def get_job(
    store: Store, project_id: int, job_id: int, *, show_tmp_logs: bool = False
) -> Job:
    """One job of the project; with `show_tmp_logs`, a running job's `log` is
    the current content of its `workflow.log` (when the file exists)."""
    with store.unit_of_work() as uow:
        job = _lookup.get_job(uow, project_id, job_id)
    if show_tmp_logs and job.status == JobStatus.SUBMITTED and job.working_dir:
        log_file = Path(job.working_dir) / WORKFLOW_LOG_FILENAME
        if log_file.is_file():
            job = job.model_copy(
                update={"log": log_file.read_text(encoding="utf-8", errors="replace")}
            )
    return job


def job_progress(store: Store, project_id: int, job_id: int) -> list[TaskProgress]:
    """Per-task progress of a job, read from the store's history.

    Any process sharing the store can call it while the job runs: one entry
    per task of the job's slice that has started, with its units and images
    done, failed and in total (the compound init unit's images not counted
    twice), and the task's run status. Tasks are those of the stored workflow.
    """
    with store.unit_of_work() as uow:
        job = _lookup.get_job(uow, project_id, job_id)
        if job.workflow_id is None or job.dataset_id is None:
            return []  # its workflow or dataset was deleted since
        tasks = uow.workflows.get(job.workflow_id).task_list
    recorder = store.recorder()
    progress = []
    for wftask in tasks[job.first_task_index : job.last_task_index + 1]:
        runs = [
            run
            for run in recorder.runs_of(job.dataset_id, wftask.id)
            if run.job_id == job.id
        ]
        if not runs:
            break
        units = recorder.units_of(runs[-1].id)
        done = [u for u in units if u.status == HistoryStatus.DONE]
        failed = [u for u in units if u.status == HistoryStatus.FAILED]
        progress.append(
            TaskProgress(
                key=wftask.id,
                name=wftask.task.name,
                order=wftask.order,
                status=runs[-1].status.value,
                units_total=len(units),
                units_done=len(done),
                units_failed=len(failed),
                images_total=len({url for u in units for url in u.zarr_urls}),
                images_done=len({url for u in done for url in u.zarr_urls}),
                images_failed=len({url for u in failed for url in u.zarr_urls}),
            )
        )
    return progress


def list_jobs(
    store: Store,
    *,
    project_id: int | None = None,
    workflow_id: int | None = None,
    dataset_id: int | None = None,
    status: JobStatus | None = None,
    log: bool = True,
) -> list[Job]:
    """Jobs by id; `log=False` blanks their `log` in the result (not stored)."""
    with store.unit_of_work() as uow:
        if project_id is not None:
            _lookup.get_project(uow, project_id)
        jobs = uow.jobs.list(
            project_id=project_id,
            workflow_id=workflow_id,
            dataset_id=dataset_id,
            status=status,
        )
    jobs = sorted(jobs, key=lambda job: job.id or 0)
    if not log:
        jobs = [job.model_copy(update={"log": None}) for job in jobs]
    return jobs


def latest_job(store: Store, project_id: int, workflow_id: int, dataset_id: int) -> Job:
    """The job of (workflow, dataset) started last (ties broken by id)."""
    with store.unit_of_work() as uow:
        _lookup.get_workflow(uow, project_id, workflow_id)
        _lookup.get_dataset(uow, project_id, dataset_id)
        jobs = uow.jobs.list(
            project_id=project_id, workflow_id=workflow_id, dataset_id=dataset_id
        )
    if not jobs:
        raise NotFoundError(
            f"Job with workflow_id={workflow_id} and dataset_id={dataset_id} not found."
        )
    return max(jobs, key=lambda job: (job.start_timestamp, job.id or 0))


def request_stop(
    store: Store,
    project_id: int,
    job_id: int,
    *,
    reason: str = "stop requested by the user",
    registry: JobRegistry | None = None,
) -> str:
    """Ask for a `submitted` job to stop; return `"cancelled"` or `"requested"`.

    A job run by this process is cancelled at once through its handle
    (`"cancelled"`). Otherwise the `shutdown` file is written into the job
    folder (`"requested"`), and the process running the job cancels it
    within its poll interval. The job ends `failed` with the reason in its
    log. Finished jobs and jobs without a folder are refused.
    """
    with store.unit_of_work() as uow:
        job = _lookup.get_job(uow, project_id, job_id)
    if job.status != JobStatus.SUBMITTED:
        raise JobNotRunningError(job_id, str(job.status))
    handle = (registry or DEFAULT_REGISTRY).get(store, job_id)
    if handle is not None:
        handle.cancel(reason)
        return "cancelled"
    folder = Path(job.working_dir) if job.working_dir else None
    if folder is None or not _folder_appears(folder, FOLDER_WAIT):
        raise JobNotRunningError(
            job_id,
            str(job.status),
            f"Cannot stop job {job_id}: its folder {folder} does not exist.",
        )
    _write_shutdown_file(
        folder, f"Trigger executor shutdown for job.id={job_id}\n{reason}\n"
    )
    return "requested"


def _folder_appears(folder: Path, wait: float) -> bool:
    """True once `folder` exists; a job just submitted (by another process or
    store object) creates it within moments, so give it up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while not folder.is_dir():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _write_shutdown_file(folder: Path, text: str) -> None:
    """Write the shutdown file whole: the watcher acts as soon as the name
    exists, and read an empty file (losing the reason) when it was created
    first and written after."""
    partial = folder / f".{SHUTDOWN_FILENAME}.{os.getpid()}.{threading.get_ident()}"
    partial.write_text(text)
    os.replace(partial, folder / SHUTDOWN_FILENAME)


def recover_jobs(store: Store, *, zip_job_folder: bool = True) -> list[RecoveredJob]:
    """Mark failed every `submitted` job whose process died; kill what it left.

    Call it when a store is opened by a new process (a restarted web backend,
    a notebook): a job whose folder says its owner process is gone (killed,
    crashed, rebooted) gets a log line saying so, its leftover task processes
    are killed and the stored job becomes `failed`. Jobs of live processes,
    of other hosts, or without a folder yet are left alone. The dataset keeps
    the images of the last task that completed (each task is stored at once).
    """
    with store.unit_of_work() as uow:
        submitted = uow.jobs.list(status=JobStatus.SUBMITTED)
    recovered = []
    for job in submitted:
        if not job.working_dir:
            continue
        running = job.model_copy(deep=True)
        result = recover_orphaned_job(
            Path(job.working_dir),
            recorder=store.recorder(),
            job=running,
            zip_job_folder=zip_job_folder,
        )
        if result is not None:
            _store_end(store, running)
            recovered.append(result)
    return recovered
