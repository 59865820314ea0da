"""`run_job` and `submit_job`: one job's lifecycle around `run_workflow`.

Everything that can be refused is checked before anything exists on disk:
the task slice, the filters, inactive task groups, and a second job on a
dataset that already has one running in this process. Then the job folder is
made, an owner record written (so a later process can tell an orphaned job
from a live one), `workflow.log` filled through a logger private to the job,
the slice run, the outcome turned into the job's status and log text exactly
as the reference does ("JOB ERROR ..." / "UNKNOWN ERROR ..."), leftover task
processes killed, the folder zipped, and the recorder (and a domain `Job`, when
given) told. Cancellation, Ctrl-C and the job's time limit end it `failed`
with the reason in the log; Ctrl-C is re-raised once the job is recorded.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from .._version import __version__
from ..executors.base import Executor
from ..images.image_list import ImageList
from ..views import html as views_html
from ..views import text as views_text
from . import liveness as liveness
from .control import PROGRESS_LOGGER
from .control import EventKind
from .control import JobControl
from .control import JobEvent
from .control import Listener
from .control import TaskProgress
from .errors import DatasetBusyError
from .errors import JobCancelledError
from .errors import JobExecutionError
from .errors import JobRefusedError
from .recorder import HistoryQueries
from .recorder import InMemoryRecorder
from .recorder import JobStatus
from .recorder import Recorder
from .recovery import write_job_record
from .runner import EngineSettings
from .runner import FailedUnit
from .runner import default_fractal_cache_dir
from .runner import run_workflow
from .runner import set_start_and_last_task_index
from .runner import validate_job_filters
from .runner import workflowtask_key
from .task_files import WORKFLOW_LOG_FILENAME
from .zipping import zip_folder

__all__ = ["JobOutcome", "PreparedJob", "default_package_of", "run_job"]

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


class _ForwardProgress(logging.Handler):
    """Pass INFO+ records of a job's private logger to `fractal_core.engine.job`.

    The job logger records DEBUG lines into `workflow.log` only, so an
    application's handlers see the job's progress, not its debug chatter.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._target = logging.getLogger(PROGRESS_LOGGER)

    def emit(self, record: logging.LogRecord) -> None:
        if self._target.isEnabledFor(record.levelno):
            self._target.handle(record)


def default_package_of(task: Any) -> tuple[str | None, str | None]:
    """(package, version) of a task: its group's when it knows it, else its own."""
    package = getattr(task, "package", None)
    if isinstance(package, tuple) and len(package) == 2:
        return package
    return getattr(task, "pkg_name", None), getattr(task, "version", None)


TaskRef = Any
"""A workflow task, its index in the workflow, or its history key."""


@dataclass
class JobOutcome:
    """The end state of a job: status, log text, folder, images, error."""

    status: JobStatus
    log: str
    working_dir: Path
    images: ImageList | None
    recorder: Recorder
    error: BaseException | None = None
    dataset_id: Hashable = None
    job_id: Hashable = None
    task_keys: list[Hashable] = field(default_factory=list)
    failures: list[FailedUnit] = field(default_factory=list)
    progress: list[TaskProgress] = field(default_factory=list)
    cancel_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == JobStatus.DONE

    def __repr__(self) -> str:
        return views_text.job_outcome_repr(self)

    def _repr_html_(self) -> str:
        return views_html.job_html(self)

    def key_of(self, task: TaskRef) -> Hashable:
        """The history key of a workflow task, an index into the workflow, or a key."""
        if isinstance(task, int) and not isinstance(task, bool) and self.task_keys:
            return self.task_keys[task]
        if hasattr(task, "task") and hasattr(task, "order"):
            position = getattr(task, "order", None)
            return workflowtask_key(task, position if position is not None else -1)
        return task

    def _queries(self) -> HistoryQueries:
        if not isinstance(self.recorder, HistoryQueries):
            raise TypeError(
                f"{type(self.recorder).__name__} answers no history queries."
            )
        return self.recorder

    def image_status(self, task: TaskRef) -> dict[str, str]:
        """zarr_url -> status for one workflow task, for every current image."""
        urls = self.images.zarr_urls() if self.images is not None else None
        return self._queries().image_status(self.dataset_id, self.key_of(task), urls)

    def task_status(self, task: TaskRef) -> dict[str, Any] | None:
        """Status and image counters of one workflow task."""
        return self._queries().workflow_task_status(self.dataset_id, self.key_of(task))


def _now() -> datetime:
    return datetime.now(UTC)


# -- one job per dataset ---------------------------------------------------------

_RUNNING: dict[tuple[str, Hashable], Hashable] = {}
_RUNNING_LOCK = threading.Lock()


def _dataset_key(dataset: Any) -> tuple[str, Hashable]:
    dataset_id = getattr(dataset, "id", None)
    return ("id", dataset_id) if dataset_id is not None else ("object", id(dataset))


def claim_dataset(dataset: Any, job_id: Hashable) -> None:
    """Mark `dataset` as run by `job_id`; DatasetBusyError if a job holds it."""
    key = _dataset_key(dataset)
    with _RUNNING_LOCK:
        holder = _RUNNING.get(key)
        if holder is not None:
            raise DatasetBusyError(
                f"Dataset {getattr(dataset, 'name', None) or key[1]!r} already has a "
                f"running job (job {holder}); wait for it or cancel it first."
            )
        _RUNNING[key] = job_id


def release_dataset(dataset: Any) -> None:
    with _RUNNING_LOCK:
        _RUNNING.pop(_dataset_key(dataset), None)


def _check_tasks_active(
    tasks: Sequence[Any], package_of: Callable[[Any], tuple[str | None, str | None]]
) -> None:
    inactive = [wft for wft in tasks if not getattr(wft.task, "is_active", True)]
    if inactive:
        names = ", ".join(
            f"'{wft.task.name}' ({' '.join(str(p) for p in package_of(wft.task))})"
            for wft in inactive
        )
        raise JobRefusedError(
            f"Cannot run tasks of an inactive task group: {names}. "
            "Reactivate the task group first."
        )


@dataclass
class PreparedJob:
    """A job checked and ready to run: nothing exists on disk yet."""

    workflow: Any
    dataset: Any
    executor: Executor
    working_dir: Path
    working_dir_user: Path | None
    job_id: Hashable
    job: Any
    recorder: Recorder
    first: int
    last: int
    type_filters: dict[str, bool]
    attribute_filters: dict[str, list[Any]]
    settings: EngineSettings
    package_of: Callable[[Any], tuple[str | None, str | None]]
    task_group_dump_of: Callable[[Any], dict[str, Any]] | None
    zip_job_folder: bool
    control: JobControl

    @property
    def task_keys(self) -> list[Hashable]:
        return [
            workflowtask_key(wft, pos)
            for pos, wft in enumerate(self.workflow.task_list)
        ]

    def run(self, *, claimed: bool = False) -> JobOutcome:
        """Run the job in this thread; Ctrl-C ends it `failed`, then propagates.

        `claimed=True`: the caller already holds the dataset (`claim_dataset`).
        """
        if not claimed:
            claim_dataset(self.dataset, self.job_id)
        try:
            return _JobRun(self).run()
        finally:
            release_dataset(self.dataset)


def prepare_job(
    *,
    workflow: Any,
    dataset: Any,
    executor: Executor,
    working_dir: Path,
    working_dir_user: Path | None = None,
    job_id: Hashable = None,
    job: Any = None,
    recorder: Recorder | None = None,
    first_task_index: int | None = None,
    last_task_index: int | None = None,
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    settings: EngineSettings | None = None,
    package_of: Callable[[Any], tuple[str | None, str | None]] = default_package_of,
    task_group_dump_of: Callable[[Any], dict[str, Any]] | None = None,
    project_dirs: Sequence[str] | None = None,
    zip_job_folder: bool = True,
    timeout: float | None = None,
    on_event: Listener | None = None,
) -> PreparedJob:
    """Check everything a job needs; raise before anything is created on disk."""
    settings = settings or EngineSettings()
    if settings.fractal_cache_dir is None and project_dirs:
        settings = replace(
            settings, fractal_cache_dir=default_fractal_cache_dir(project_dirs)
        )
    task_list = list(workflow.task_list)
    first, last = set_start_and_last_task_index(
        len(task_list), first_task_index, last_task_index
    )
    checked_types, checked_attributes = validate_job_filters(
        type_filters, attribute_filters
    )
    _check_tasks_active(task_list[first : last + 1], package_of)
    if job is not None and job_id is None:
        job_id = job.id
    if job_id is None:
        job_id = f"local-{uuid.uuid4().hex[:12]}"
    return PreparedJob(
        workflow=workflow,
        dataset=dataset,
        executor=executor,
        working_dir=Path(working_dir),
        working_dir_user=Path(working_dir_user) if working_dir_user else None,
        job_id=job_id,
        job=job,
        recorder=recorder if recorder is not None else InMemoryRecorder(),
        first=first,
        last=last,
        type_filters=checked_types,
        attribute_filters=checked_attributes,
        settings=settings,
        package_of=package_of,
        task_group_dump_of=task_group_dump_of,
        zip_job_folder=zip_job_folder,
        control=JobControl(
            job_id, timeout=timeout, listeners=[on_event] if on_event else []
        ),
    )


class _JobRun:
    """The body of one job: folder, logger, owner record, run, end state."""

    def __init__(self, prepared: PreparedJob) -> None:
        self.p = prepared
        self.log = logging.Logger(
            f"WF{getattr(prepared.workflow, 'id', None)}_job{prepared.job_id}",
            logging.DEBUG,
        )  # not registered with `logging`: released with the job
        self.token: str | None = None
        self.final_status: JobStatus | None = None

    def run(self) -> JobOutcome:
        p = self.p
        p.recorder.job_started(
            job_id=p.job_id,
            working_dir=str(p.working_dir),
            dataset_id=getattr(p.dataset, "id", None),
        )
        p.control.emit(JobEvent(EventKind.JOB_STARTED, p.job_id, status="submitted"))
        try:
            p.working_dir.mkdir(parents=True, exist_ok=False)
        except Exception as exc:
            text = (
                f"{type(exc).__name__} error while creating local job folder. "
                f"Original error: {exc}"
            )
            return self._finish(JobStatus.FAILED, text, exc)
        self.token = liveness.write_owner(p.working_dir, uuid.uuid4().hex).token
        write_job_record(
            p.working_dir,
            job_id=p.job_id,
            dataset_id=getattr(p.dataset, "id", None),
            workflow_id=getattr(p.workflow, "id", None),
            workflow_name=getattr(p.workflow, "name", None),
        )
        handlers = self._open_log()
        p.control.start_clock()
        try:
            return self._run_logged()
        finally:
            p.control.stop_clock()
            for handler in handlers:
                self.log.removeHandler(handler)
                handler.close()
            self._after()

    def _open_log(self) -> list[logging.Handler]:
        file_handler = logging.FileHandler(self.p.working_dir / WORKFLOW_LOG_FILENAME)
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers: list[logging.Handler] = [_ForwardProgress(), file_handler]
        for handler in handlers:
            self.log.addHandler(handler)
        return handlers

    def _run_logged(self) -> JobOutcome:
        p, log = self.p, self.log
        name = p.workflow.name
        log_path = p.working_dir / WORKFLOW_LOG_FILENAME
        try:
            log.info(
                'Start execution of workflow "%s"; more logs at %s', name, log_path
            )
            log.debug("fractal_core version: %s", __version__)
            log.debug("job.id: %s", p.job_id)
            log.debug("job.working_dir: %s", p.working_dir)
            log.debug("job.working_dir_user: %s", p.working_dir_user or p.working_dir)
            log.debug("job.first_task_index: %s", p.first)
            log.debug("job.last_task_index: %s", p.last)
            log.debug('START workflow "%s"', name)
            self._run_slice()
            log.info('End execution of workflow "%s"; more logs at %s', name, log_path)
            log.debug('END workflow "%s"', name)
            for handler in log.handlers:
                handler.flush()
            return self._finish(JobStatus.DONE, log_path.read_text(), None)
        except JobCancelledError as exc:
            log.info('Workflow "%s" cancelled: %s', name, exc.reason)
            return self._finish(JobStatus.FAILED, _job_error_text(p.job_id, exc), exc)
        except JobExecutionError as exc:
            log.debug('FAILED workflow "%s", JobExecutionError.', name)
            log.info('Workflow "%s" failed (JobExecutionError).', name)
            return self._finish(JobStatus.FAILED, _job_error_text(p.job_id, exc), exc)
        except Exception as exc:
            log.debug('FAILED workflow "%s", unknown error.', name)
            log.info('Workflow "%s" failed (unknown error).', name)
            text = f"UNKNOWN ERROR in Fractal job {p.job_id}\nTRACEBACK:\n" + "".join(
                traceback.format_exception(exc)
            )
            return self._finish(JobStatus.FAILED, text, exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit
            reason = f"interrupted ({type(exc).__name__})"
            p.control.cancel(reason)
            log.info('Workflow "%s" cancelled: %s', name, reason)
            error = JobCancelledError(reason)
            self._finish(JobStatus.FAILED, _job_error_text(p.job_id, error), error)
            raise

    def _run_slice(self) -> None:
        p = self.p
        run_workflow(
            wf_task_list=list(p.workflow.task_list)[p.first : p.last + 1],
            dataset=p.dataset,
            executor=p.executor,
            workflow_dir_local=p.working_dir,
            workflow_dir_remote=p.working_dir_user,
            recorder=p.recorder,
            job_id=p.job_id,
            job_type_filters=p.type_filters,
            job_attribute_filters=p.attribute_filters,
            settings=p.settings,
            logger=self.log,
            package_of=p.package_of,
            task_group_dump_of=p.task_group_dump_of,
            control=p.control,
            first_task_position=p.first,
            extra_env={liveness.TOKEN_ENV: self.token} if self.token else None,
        )

    def _finish(
        self, status: JobStatus, log: str, error: BaseException | None
    ) -> JobOutcome:
        p = self.p
        end = _now()
        self.final_status = status
        p.recorder.job_ended(job_id=p.job_id, status=status, log=log, end_timestamp=end)
        if p.job is not None:
            p.job.working_dir = str(p.working_dir)
            p.job.working_dir_user = str(p.working_dir_user or p.working_dir)
            error_log = getattr(p.executor, "executor_error_log", None)
            p.job.finish(
                status,
                log=log,
                executor_error_log=error_log.replace("\x00", "") if error_log else None,
                at=end,
            )
        images = p.dataset.images
        outcome = JobOutcome(
            status=status,
            log=log,
            working_dir=p.working_dir,
            images=images if isinstance(images, ImageList) else None,
            recorder=p.recorder,
            error=error,
            dataset_id=getattr(p.dataset, "id", None),
            job_id=p.job_id,
            task_keys=p.task_keys,
            failures=list(getattr(error, "failures", None) or []),
            progress=p.control.progress(),
            cancel_reason=error.reason
            if isinstance(error, JobCancelledError)
            else None,
        )
        p.control.emit(JobEvent(EventKind.JOB_ENDED, p.job_id, status=status.value))
        return outcome

    def _after(self) -> None:
        """Kill what the job's tasks left running, mark the folder ended, zip it."""
        p = self.p
        if self.token is not None:
            killed = liveness.kill_token_processes(self.token)
            if killed:
                logging.getLogger(__name__).warning(
                    "Job %s: killed %d task process(es) left running: %s",
                    p.job_id,
                    len(killed),
                    killed,
                )
        status = self.final_status.value if self.final_status else "failed"
        liveness.mark_finished(p.working_dir, status)
        if p.zip_job_folder:
            zip_folder(p.working_dir)


def _job_error_text(job_id: Hashable, exc: JobExecutionError) -> str:
    return f"JOB ERROR in Fractal job {job_id}:\nTRACEBACK:\n{exc.assemble_error()}"


def run_job(**kwargs: Any) -> JobOutcome:
    """Run a job and wait for it; never raises for task failures: read `status`.

    Takes the arguments of `prepare_job`. Raises `InvalidTaskRange`,
    `JobRefusedError` (inactive task group, busy dataset) or a filter
    validation error before anything is created. `job`, if given (a domain
    `Job`), gets its final status, log and timestamps. `timeout` (seconds)
    cancels the job when exceeded. On Ctrl-C the running units are killed, the
    job is recorded `failed` with the reason, and KeyboardInterrupt propagates.
    """
    return prepare_job(**kwargs).run()
