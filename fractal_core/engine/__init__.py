"""The workflow engine: runs workflows on datasets through an `Executor`.

No database here: persistence plugs in through the `Recorder` protocol.
"""

from __future__ import annotations

from .apply import AppliedOutput
from .apply import apply_task_output
from .errors import DuplicateZarrUrlError
from .errors import EmptyImageListError
from .errors import InvalidTaskRange
from .errors import JobExecutionError
from .errors import MissingImageError
from .errors import NewImageOutsideZarrDirError
from .errors import TaskExecutionError
from .errors import TaskOutputApplicationError
from .errors import TaskOutputValidationError
from .errors import TooManyParallelizationItems
from .errors import UnreachableBranchError
from .job import JobOutcome
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
from .recorder import HistoryStatus
from .recorder import InMemoryRecorder
from .recorder import NewUnit
from .recorder import Recorder
from .recorder import RunRecord
from .recorder import UnitRecord
from .runner import DEFAULT_MAX_PARALLELIZATION_LIST_SIZE
from .runner import EngineSettings
from .runner import WorkflowRunResult
from .runner import default_fractal_cache_dir
from .runner import run_workflow
from .runner import set_start_and_last_task_index
from .runner import user_fractal_cache_dir
from .selection import Selection
from .selection import select_images
from .task_files import TaskFiles
from .task_files import job_folder_name
from .task_files import job_folder_path
from .zipping import zip_folder

__all__ = [
    "DEFAULT_MAX_PARALLELIZATION_LIST_SIZE",
    "AppliedOutput",
    "DuplicateZarrUrlError",
    "EmptyImageListError",
    "EngineSettings",
    "HistoryStatus",
    "InMemoryRecorder",
    "InitArgsModel",
    "InitTaskOutput",
    "InvalidTaskRange",
    "JobExecutionError",
    "JobOutcome",
    "MergedOutput",
    "MissingImageError",
    "NewImageOutsideZarrDirError",
    "NewUnit",
    "Recorder",
    "RunRecord",
    "Selection",
    "TaskExecutionError",
    "TaskFiles",
    "TaskOutput",
    "TaskOutputApplicationError",
    "TaskOutputValidationError",
    "TooManyParallelizationItems",
    "UnitRecord",
    "UnreachableBranchError",
    "WorkflowRunResult",
    "apply_task_output",
    "deduplicate_list",
    "default_fractal_cache_dir",
    "job_folder_name",
    "job_folder_path",
    "merge_outputs",
    "merge_task_outputs",
    "run_job",
    "run_workflow",
    "select_images",
    "set_start_and_last_task_index",
    "user_fractal_cache_dir",
    "validate_init_task_output",
    "validate_task_output",
    "zip_folder",
]
