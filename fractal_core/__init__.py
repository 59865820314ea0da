"""fractal_core: the core of the Fractal bioimage-analysis platform as a library.

Everything a user needs is importable from here; subpackages hold one concern each.
"""

import logging as _logging

from ._version import __version__
from .collection import BackgroundOperation
from .collection import CollectionSettings
from .collection import OperationResult
from .collection import PythonSettings
from .collection import TaskLifecycleError
from .collection import collect_custom
from .collection import collect_pixi
from .collection import collect_pypi
from .collection import collect_wheel
from .collection import deactivate
from .collection import delete
from .collection import find_task_groups
from .collection import load_task_group
from .collection import reactivate
from .collection import recover_stale_folders
from .domain import ArgumentValidationError
from .domain import Dataset
from .domain import HistoryImageCache
from .domain import HistoryRun
from .domain import HistoryUnit
from .domain import HistoryUnitStatus
from .domain import Job
from .domain import JobStatus
from .domain import Profile
from .domain import Project
from .domain import Resource
from .domain import ResourceType
from .domain import Task
from .domain import TaskGroup
from .domain import TaskGroupActivity
from .domain import TaskGroupActivityAction
from .domain import TaskGroupActivityStatus
from .domain import TaskGroupOrigin
from .domain import TaskType
from .domain import Workflow
from .domain import WorkflowEditError
from .domain import WorkflowTask
from .engine import DatasetBusyError
from .engine import EngineSettings
from .engine import EventKind
from .engine import HistoryQueries
from .engine import InMemoryRecorder
from .engine import JobCancelledError
from .engine import JobEvent
from .engine import JobExecutionError
from .engine import JobHandle
from .engine import JobOutcome
from .engine import JobRefusedError
from .engine import JobTimeoutError
from .engine import Recorder
from .engine import TaskExecutionError
from .engine import TaskOutputValidationError
from .engine import TaskProgress
from .engine import recover_orphaned_job
from .engine import recover_orphaned_jobs
from .engine import run_job
from .engine import run_workflow
from .engine import submit_job
from .engine.resume import NothingToResumeError
from .engine.resume import ResumeError
from .engine.resume import resume_plan
from .engine.resume import resume_task
from .errors import FilterError
from .errors import FractalCoreError
from .executors import Executor
from .executors import ExecutorError
from .executors import FailureKind
from .executors import Handle
from .executors import InlineExecutor
from .executors import LocalExecutor
from .executors import ResourceRequest
from .executors import UnitFailure
from .executors import UnitResult
from .executors import UnitStatus
from .executors import WorkUnit
from .hosts import Host
from .hosts import HostError
from .hosts import LocalHost
from .hosts import SudoHost
from .hosts import UnsafePathError
from .images import DuplicateImageError
from .images import ImageList
from .images import ImageNotFoundError
from .images import ImageOutsideZarrDirError
from .images import IncompatibleTypeFiltersError
from .images import SingleImage
from .images import SingleImageTaskOutput
from .images import SingleImageUpdate
from .images import aggregate_attributes
from .images import aggregate_types
from .images import filter_image_list
from .images import find_image_by_zarr_url
from .images import match_filter
from .images import merge_type_filters
from .io import DatasetImportError
from .io import LegacyTaskSourceError
from .io import Ownership
from .io import TaskResolutionError
from .io import WorkflowImportError
from .io import export_dataset
from .io import export_dataset_file
from .io import export_workflow
from .io import export_workflow_file
from .io import import_dataset
from .io import import_dataset_file
from .io import import_workflow
from .io import import_workflow_file
from .io import version_sort_key
from .manifest import MANIFEST_FILENAME
from .manifest import ManifestError
from .manifest import ManifestV2
from .manifest import TaskManifestV2
from .manifest import load_manifest
from .manifest import parse_manifest
from .types import AbsolutePathStr
from .types import AttributeFilters
from .types import DictStrAny
from .types import DictStrStr
from .types import HttpUrlStr
from .types import ImageAttributes
from .types import ImageAttributesWithNone
from .types import ImageAttributeValue
from .types import ImageTypes
from .types import ListUniqueAbsolutePathStr
from .types import ListUniqueNonEmptyString
from .types import ListUniqueNonNegativeInt
from .types import NonEmptyStr
from .types import TypeFilters
from .types import WorkflowTaskArgument
from .types import ZarrDirStr
from .types import ZarrUrlStr
from .types import interpret_as_bool
from .types import is_url_inside
from .types import join_url
from .types import normalize_package_name
from .types import normalize_url
from .types import sanitize_string
from .types import validate_cmd
from .types import validate_filters
from .views import progress
from .views import watch

__all__ = [
    "__version__",
    "AbsolutePathStr",
    "ArgumentValidationError",
    "AttributeFilters",
    "BackgroundOperation",
    "CollectionSettings",
    "Dataset",
    "DatasetBusyError",
    "DatasetImportError",
    "DictStrAny",
    "DictStrStr",
    "DuplicateImageError",
    "EngineSettings",
    "EventKind",
    "Executor",
    "ExecutorError",
    "FailureKind",
    "FilterError",
    "FractalCoreError",
    "Handle",
    "HistoryImageCache",
    "HistoryQueries",
    "HistoryRun",
    "HistoryUnit",
    "HistoryUnitStatus",
    "Host",
    "HostError",
    "HttpUrlStr",
    "ImageAttributeValue",
    "ImageAttributes",
    "ImageAttributesWithNone",
    "ImageList",
    "ImageNotFoundError",
    "ImageOutsideZarrDirError",
    "ImageTypes",
    "InMemoryRecorder",
    "IncompatibleTypeFiltersError",
    "InlineExecutor",
    "Job",
    "JobCancelledError",
    "JobEvent",
    "JobExecutionError",
    "JobHandle",
    "JobOutcome",
    "JobRefusedError",
    "JobStatus",
    "JobTimeoutError",
    "LegacyTaskSourceError",
    "ListUniqueAbsolutePathStr",
    "ListUniqueNonEmptyString",
    "ListUniqueNonNegativeInt",
    "LocalExecutor",
    "LocalHost",
    "MANIFEST_FILENAME",
    "ManifestError",
    "ManifestV2",
    "NonEmptyStr",
    "NothingToResumeError",
    "OperationResult",
    "Ownership",
    "Profile",
    "Project",
    "PythonSettings",
    "Recorder",
    "Resource",
    "ResourceRequest",
    "ResourceType",
    "ResumeError",
    "SingleImage",
    "SingleImageTaskOutput",
    "SingleImageUpdate",
    "SudoHost",
    "Task",
    "TaskExecutionError",
    "TaskGroup",
    "TaskGroupActivity",
    "TaskGroupActivityAction",
    "TaskGroupActivityStatus",
    "TaskGroupOrigin",
    "TaskLifecycleError",
    "TaskManifestV2",
    "TaskOutputValidationError",
    "TaskProgress",
    "TaskResolutionError",
    "TaskType",
    "TypeFilters",
    "UnitFailure",
    "UnitResult",
    "UnitStatus",
    "UnsafePathError",
    "WorkUnit",
    "Workflow",
    "WorkflowEditError",
    "WorkflowImportError",
    "WorkflowTask",
    "WorkflowTaskArgument",
    "ZarrDirStr",
    "ZarrUrlStr",
    "aggregate_attributes",
    "aggregate_types",
    "collect_custom",
    "collect_pixi",
    "collect_pypi",
    "collect_wheel",
    "deactivate",
    "delete",
    "export_dataset",
    "export_dataset_file",
    "export_workflow",
    "export_workflow_file",
    "filter_image_list",
    "find_image_by_zarr_url",
    "find_task_groups",
    "import_dataset",
    "import_dataset_file",
    "import_workflow",
    "import_workflow_file",
    "interpret_as_bool",
    "is_url_inside",
    "join_url",
    "load_manifest",
    "load_task_group",
    "match_filter",
    "merge_type_filters",
    "normalize_package_name",
    "normalize_url",
    "parse_manifest",
    "progress",
    "reactivate",
    "recover_orphaned_job",
    "recover_orphaned_jobs",
    "recover_stale_folders",
    "resume_plan",
    "resume_task",
    "run_job",
    "run_workflow",
    "sanitize_string",
    "submit_job",
    "validate_cmd",
    "validate_filters",
    "version_sort_key",
    "watch",
]

# A library never configures logging; this keeps "No handlers could be found"
# warnings away when the application configured none.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
