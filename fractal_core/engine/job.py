"""`run_job`: one job's lifecycle around `run_workflow` (reference `submit_workflow`).

Creates the job folder, writes `workflow.log`, runs the selected slice of the
workflow, turns the outcome into the job's status and log text exactly as the
reference does ("JOB ERROR ..." / "UNKNOWN ERROR ..."), zips the folder, and
reports everything to the recorder (and to a domain `Job`, when given).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..executors.base import Executor
from ..images.image_list import ImageList
from .errors import JobExecutionError
from .recorder import InMemoryRecorder
from .recorder import JobStatus
from .recorder import Recorder
from .runner import EngineSettings
from .runner import default_fractal_cache_dir
from .runner import default_package_of
from .runner import run_workflow
from .runner import set_start_and_last_task_index
from .task_files import WORKFLOW_LOG_FILENAME
from .zipping import zip_folder

__all__ = ["JobOutcome", "run_job"]

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
PROGRESS_LOGGER = "fractal_core.engine.job"


class _ForwardProgress(logging.Handler):
    """Pass INFO+ records of a job's private logger to `fractal_core.engine.job`.

    The job logger records DEBUG lines into `workflow.log` and does not propagate,
    so an application's root handlers see the job's progress, not its debug chatter.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._target = logging.getLogger(PROGRESS_LOGGER)

    def emit(self, record: logging.LogRecord) -> None:
        if self._target.isEnabledFor(record.levelno):
            self._target.handle(record)


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

    def image_status(self, workflowtask_id: Hashable) -> dict[str, str]:
        """zarr_url -> status for one workflow task, for every current image."""
        urls = self.images.zarr_urls() if self.images is not None else None
        return self.recorder.image_status(self.dataset_id, workflowtask_id, urls)

    def task_status(self, workflowtask_id: Hashable) -> dict[str, Any] | None:
        """Status and image counters of one workflow task (in-memory recorder)."""
        query = getattr(self.recorder, "workflow_task_status", None)
        return None if query is None else query(self.dataset_id, workflowtask_id)


def _now() -> datetime:
    return datetime.now(UTC)


def run_job(
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
) -> JobOutcome:
    """Run a job and never raise for task failures: read `status` and `log`.

    Raises InvalidTaskRange before touching anything when the slice is invalid.
    `job`, if given (a domain `Job`), gets its final status, log, timestamps.
    FRACTAL_CACHE_DIR is `settings.fractal_cache_dir` if set, else the
    reference's default under the first of `project_dirs` (when given).
    """
    settings = settings or EngineSettings()
    if settings.fractal_cache_dir is None and project_dirs:
        settings = replace(
            settings, fractal_cache_dir=default_fractal_cache_dir(project_dirs)
        )
    recorder = recorder if recorder is not None else InMemoryRecorder()
    task_list = list(workflow.task_list)
    first, last = set_start_and_last_task_index(
        len(task_list), first_task_index, last_task_index
    )
    if job is not None and job_id is None:
        job_id = job.id
    working_dir = Path(working_dir)
    recorder.job_started(job_id=job_id, working_dir=str(working_dir))

    def finish(status: JobStatus, log: str, error: BaseException | None) -> JobOutcome:
        end = _now()
        recorder.job_ended(job_id=job_id, status=status, log=log, end_timestamp=end)
        if job is not None:
            job.working_dir = str(working_dir)
            job.working_dir_user = str(working_dir_user or working_dir)
            error_log = getattr(executor, "executor_error_log", None)
            job.finish(
                status,
                log=log,
                executor_error_log=error_log.replace("\x00", "") if error_log else None,
                at=end,
            )
        images = dataset.images if isinstance(dataset.images, ImageList) else None
        return JobOutcome(
            status=status,
            log=log,
            working_dir=working_dir,
            images=images,
            recorder=recorder,
            error=error,
            dataset_id=getattr(dataset, "id", None),
        )

    try:
        working_dir.mkdir(parents=True, exist_ok=False)
    except Exception as exc:
        return finish(
            JobStatus.FAILED,
            f"{type(exc).__name__} error while creating local job folder. "
            f"Original error: {exc}",
            exc,
        )

    logger_name = f"WF{getattr(workflow, 'id', None)}_job{job_id}"
    log = logging.getLogger(logger_name)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    forward = _ForwardProgress()
    log.addHandler(forward)
    log_path = working_dir / WORKFLOW_LOG_FILENAME
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    log.addHandler(handler)
    name = workflow.name
    try:
        log.info('Start execution of workflow "%s"; more logs at %s', name, log_path)
        log.debug("fractal_core version: %s", __version__)
        log.debug("job.id: %s", job_id)
        log.debug("job.working_dir: %s", working_dir)
        log.debug("job.working_dir_user: %s", working_dir_user or working_dir)
        log.debug("job.first_task_index: %s", first)
        log.debug("job.last_task_index: %s", last)
        log.debug('START workflow "%s"', name)
        run_workflow(
            wf_task_list=task_list[first : last + 1],
            dataset=dataset,
            executor=executor,
            workflow_dir_local=working_dir,
            workflow_dir_remote=working_dir_user,
            recorder=recorder,
            job_id=job_id,
            job_type_filters=type_filters,
            job_attribute_filters=attribute_filters,
            settings=settings,
            logger_name=logger_name,
            package_of=package_of,
            task_group_dump_of=task_group_dump_of,
        )
        log.info('End execution of workflow "%s"; more logs at %s', name, log_path)
        log.debug('END workflow "%s"', name)
        handler.flush()
        outcome = finish(JobStatus.DONE, log_path.read_text(), None)
    except JobExecutionError as exc:
        log.debug('FAILED workflow "%s", JobExecutionError.', name)
        log.info('Workflow "%s" failed (JobExecutionError).', name)
        text = f"JOB ERROR in Fractal job {job_id}:\nTRACEBACK:\n{exc.assemble_error()}"
        outcome = finish(JobStatus.FAILED, text, exc)
    except Exception as exc:
        log.debug('FAILED workflow "%s", unknown error.', name)
        log.info('Workflow "%s" failed (unknown error).', name)
        text = f"UNKNOWN ERROR in Fractal job {job_id}\nTRACEBACK:\n" + "".join(
            traceback.format_exception(exc)
        )
        outcome = finish(JobStatus.FAILED, text, exc)
    finally:
        log.removeHandler(handler)
        log.removeHandler(forward)
        handler.close()
    if zip_job_folder:
        zip_folder(working_dir)
    return outcome
