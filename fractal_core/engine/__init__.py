"""The workflow engine: runs workflows on datasets through an `Executor`.

No database here: persistence plugs in through the `Recorder` protocol.
"""

from __future__ import annotations

from .apply import AppliedOutput
from .apply import apply_task_output
from .control import EventKind
from .control import JobControl
from .control import JobEvent
from .control import TaskProgress
from .errors import DatasetBusyError
from .errors import DuplicateZarrUrlError
from .errors import EmptyImageListError
from .errors import InvalidTaskRange
from .errors import JobCancelledError
from .errors import JobExecutionError
from .errors import JobRefusedError
from .errors import JobTimeoutError
from .errors import MissingImageError
from .errors import NewImageOutsideZarrDirError
from .errors import TaskExecutionError
from .errors import TaskOutputApplicationError
from .errors import TaskOutputValidationError
from .errors import TooManyParallelizationItems
from .errors import UnreachableBranchError
from .handle import JobHandle
from .handle import submit_job
from .job import JobOutcome
from .job import PreparedJob
from .job import prepare_job
from .job import run_job
from .outputs import InitArgsModel
from .outputs import InitTaskOutput
from .outputs import MergedOutput
from .outputs import TaskOutput
from .outputs import deduplicate_list
from .outputs import merge_outputs
from .outputs import merge_task_outputs
from .outputs import validate_init_task_output
from .outputs import validate_task_output
from .recorder import HistoryQueries
from .recorder import HistoryStatus
from .recorder import ImageChanges
from .recorder import InMemoryRecorder
from .recorder import JobRecord
from .recorder import NewUnit
from .recorder import Recorder
from .recorder import RunRecord
from .recorder import TaskApplied
from .recorder import UnitRecord
from .recovery import RecoveredJob
from .recovery import find_orphaned_jobs
from .recovery import recover_orphaned_job
from .recovery import recover_orphaned_jobs
from .runner import DEFAULT_MAX_PARALLELIZATION_LIST_SIZE
from .runner import EngineSettings
from .runner import FailedUnit
from .runner import WorkflowRunResult
from .runner import default_fractal_cache_dir
from .runner import run_workflow
from .runner import set_start_and_last_task_index
from .runner import user_fractal_cache_dir
from .runner import validate_job_filters
from .runner import workflowtask_key
from .selection import Selection
from .selection import select_images
from .task_files import TaskFiles
from .task_files import job_folder_name
from .task_files import job_folder_path
from .zipping import zip_folder

__all__ = [
    "DEFAULT_MAX_PARALLELIZATION_LIST_SIZE",
    "AppliedOutput",
    "DatasetBusyError",
    "DuplicateZarrUrlError",
    "EmptyImageListError",
    "EngineSettings",
    "EventKind",
    "FailedUnit",
    "HistoryQueries",
    "HistoryStatus",
    "ImageChanges",
    "InMemoryRecorder",
    "InitArgsModel",
    "InitTaskOutput",
    "InvalidTaskRange",
    "JobCancelledError",
    "JobControl",
    "JobEvent",
    "JobExecutionError",
    "JobHandle",
    "JobOutcome",
    "JobRecord",
    "JobRefusedError",
    "JobTimeoutError",
    "MergedOutput",
    "MissingImageError",
    "NewImageOutsideZarrDirError",
    "NewUnit",
    "PreparedJob",
    "Recorder",
    "RecoveredJob",
    "RunRecord",
    "Selection",
    "TaskApplied",
    "TaskExecutionError",
    "TaskFiles",
    "TaskOutput",
    "TaskOutputApplicationError",
    "TaskOutputValidationError",
    "TaskProgress",
    "TooManyParallelizationItems",
    "UnitRecord",
    "UnreachableBranchError",
    "WorkflowRunResult",
    "apply_task_output",
    "deduplicate_list",
    "default_fractal_cache_dir",
    "find_orphaned_jobs",
    "job_folder_name",
    "job_folder_path",
    "merge_outputs",
    "merge_task_outputs",
    "prepare_job",
    "recover_orphaned_job",
    "recover_orphaned_jobs",
    "run_job",
    "run_workflow",
    "select_images",
    "set_start_and_last_task_index",
    "submit_job",
    "user_fractal_cache_dir",
    "validate_init_task_output",
    "validate_job_filters",
    "validate_task_output",
    "workflowtask_key",
    "zip_folder",
]
