"""fractal_core: the core of the Fractal bioimage-analysis platform as a library.

The rule for what is at the top level: a name is here when someone who builds
and runs workflows from a notebook or a script needs it in most sessions.
A name needed only to configure a deployment, to extend the library or to look
at its inner workings lives in its subpackage, one concern each.

At the top level (`dir(fractal_core)` lists exactly these and the subpackages):

- domain objects: Project, Dataset, Workflow, WorkflowTask, Task, TaskGroup,
  Job, and the enums JobStatus and TaskType;
- running: run_job, submit_job, run_workflow, the JobHandle and JobOutcome
  they give back, resume_task and resume_plan;
- executors: the Executor protocol and LocalExecutor;
- collection: CollectionSettings, collect_pypi, collect_wheel, collect_custom,
  collect_pixi, deactivate, reactivate, delete, find_task_groups,
  load_task_group;
- files shared with fractal-server: import_/export_ workflow and dataset
  (objects and files);
- images: ImageList, SingleImage and the filter helpers (filter_image_list,
  match_filter, merge_type_filters, find_image_by_zarr_url,
  aggregate_attributes, aggregate_types);
- stores: MemoryStore, SQLStore (SQLAlchemy is imported on first use);
- views: progress, watch;
- FractalCoreError, the base of every exception the library raises.

Elsewhere:

- every exception class: `fractal_core.errors`;
- type aliases (`*Str`, `Dict*`, `List*`, filters, image types) and the
  string and URL helpers: `fractal_core.types`;
- history records, resources, profiles, task-group activities and origins:
  `fractal_core.domain`;
- engine settings, job events, task progress, recorders, history queries,
  orphaned-job recovery: `fractal_core.engine`;
- the executor seam (WorkUnit, UnitResult, Handle, ResourceRequest...),
  InlineExecutor (a test double), SLURM: `fractal_core.executors[.slurm]`;
- hosts (LocalHost, SudoHost, SSHHost): `fractal_core.hosts`;
- Python and background-collection settings: `fractal_core.collection`;
- Ownership, version_sort_key: `fractal_core.io`; manifests:
  `fractal_core.manifest`; business rules: `fractal_core.services`; the text
  and HTML views: `fractal_core.views`.

Names that were at the top level before still resolve from here, with a
DeprecationWarning naming their new place.
"""

import importlib as _importlib
import logging as _logging
import typing as _typing
import warnings as _warnings

from ._version import __version__
from .collection import CollectionSettings
from .collection import collect_custom
from .collection import collect_pixi
from .collection import collect_pypi
from .collection import collect_wheel
from .collection import deactivate
from .collection import delete
from .collection import find_task_groups
from .collection import load_task_group
from .collection import reactivate
from .domain import Dataset
from .domain import Job
from .domain import JobStatus
from .domain import Project
from .domain import Task
from .domain import TaskGroup
from .domain import TaskType
from .domain import Workflow
from .domain import WorkflowTask
from .engine import JobHandle
from .engine import JobOutcome
from .engine import run_job
from .engine import run_workflow
from .engine import submit_job
from .engine.resume import resume_plan
from .engine.resume import resume_task
from .errors import FractalCoreError
from .executors import Executor
from .executors import LocalExecutor
from .images import ImageList
from .images import SingleImage
from .images import aggregate_attributes
from .images import aggregate_types
from .images import filter_image_list
from .images import find_image_by_zarr_url
from .images import match_filter
from .images import merge_type_filters
from .io import export_dataset
from .io import export_dataset_file
from .io import export_workflow
from .io import export_workflow_file
from .io import import_dataset
from .io import import_dataset_file
from .io import import_workflow
from .io import import_workflow_file
from .repository import MemoryStore
from .views import progress
from .views import watch

if _typing.TYPE_CHECKING:
    from .repository.sql import SQLStore

__all__ = [
    "__version__",
    # domain objects
    "Dataset",
    "Job",
    "JobStatus",
    "Project",
    "Task",
    "TaskGroup",
    "TaskType",
    "Workflow",
    "WorkflowTask",
    # running
    "JobHandle",
    "JobOutcome",
    "resume_plan",
    "resume_task",
    "run_job",
    "run_workflow",
    "submit_job",
    # executors
    "Executor",
    "LocalExecutor",
    # collection
    "CollectionSettings",
    "collect_custom",
    "collect_pixi",
    "collect_pypi",
    "collect_wheel",
    "deactivate",
    "delete",
    "find_task_groups",
    "load_task_group",
    "reactivate",
    # files shared with fractal-server
    "export_dataset",
    "export_dataset_file",
    "export_workflow",
    "export_workflow_file",
    "import_dataset",
    "import_dataset_file",
    "import_workflow",
    "import_workflow_file",
    # images and filters
    "ImageList",
    "SingleImage",
    "aggregate_attributes",
    "aggregate_types",
    "filter_image_list",
    "find_image_by_zarr_url",
    "match_filter",
    "merge_type_filters",
    # stores
    "MemoryStore",
    "SQLStore",
    # views
    "progress",
    "watch",
    # the base of every exception
    "FractalCoreError",
]

# The subpackages, each an attribute of this module (imported on first access).
_SUBPACKAGES = (
    "cli",
    "collection",
    "domain",
    "engine",
    "errors",
    "executors",
    "hosts",
    "images",
    "io",
    "manifest",
    "repository",
    "services",
    "types",
    "views",
)

# Top-level names loaded on first access (their imports are heavy).
_LAZY = {"SQLStore": "fractal_core.repository.sql"}

# The module to import from now -> the names that left the top level.
_MOVED = {
    "fractal_core.errors": """
        ArgumentValidationError DatasetBusyError DatasetImportError
        DuplicateImageError ExecutorError FilterError HostError
        ImageNotFoundError ImageOutsideZarrDirError IncompatibleTypeFiltersError
        JobCancelledError JobExecutionError JobRefusedError JobTimeoutError
        LegacyTaskSourceError ManifestError NothingToResumeError ResumeError
        TaskExecutionError TaskLifecycleError TaskOutputValidationError
        TaskResolutionError UnsafePathError WorkflowEditError
        WorkflowImportError
    """,
    "fractal_core.types": """
        AbsolutePathStr AttributeFilters DictStrAny DictStrStr HttpUrlStr
        ImageAttributeValue ImageAttributes ImageAttributesWithNone ImageTypes
        ListUniqueAbsolutePathStr ListUniqueNonEmptyString
        ListUniqueNonNegativeInt NonEmptyStr TypeFilters WorkflowTaskArgument
        ZarrDirStr ZarrUrlStr interpret_as_bool is_url_inside join_url
        normalize_package_name normalize_url sanitize_string validate_cmd
        validate_filters
    """,
    "fractal_core.domain": """
        HistoryImageCache HistoryRun HistoryUnit HistoryUnitStatus Profile
        Resource ResourceType TaskGroupActivity TaskGroupActivityAction
        TaskGroupActivityStatus TaskGroupOrigin
    """,
    "fractal_core.engine": """
        EngineSettings EventKind HistoryQueries InMemoryRecorder JobEvent
        Recorder TaskProgress recover_orphaned_job recover_orphaned_jobs
    """,
    "fractal_core.executors": """
        FailureKind Handle InlineExecutor ResourceRequest UnitFailure UnitResult
        UnitStatus WorkUnit
    """,
    "fractal_core.hosts": """
        Host LocalHost SudoHost
    """,
    "fractal_core.collection": """
        BackgroundOperation OperationResult PythonSettings recover_stale_folders
    """,
    "fractal_core.io": """
        Ownership version_sort_key
    """,
    "fractal_core.images": """
        SingleImageTaskOutput SingleImageUpdate
    """,
    "fractal_core.manifest": """
        MANIFEST_FILENAME ManifestV2 TaskManifestV2 load_manifest parse_manifest
    """,
}
_MOVED_TO = {name: home for home, names in _MOVED.items() for name in names.split()}


def __getattr__(name: str) -> _typing.Any:
    """Subpackages and heavy names on first access; moved names with a warning."""
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    home = _MOVED_TO.get(name)
    if home is None:
        message = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(message)
    _warnings.warn(
        f"fractal_core.{name} moved: import it from {home} "
        f"(`from {home} import {name}`).",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(home), name)


def __dir__() -> list[str]:
    """The curated names and the subpackages (not the moved names)."""
    dunders = {n for n in globals() if n.startswith("__")}
    return sorted(set(__all__) | set(_SUBPACKAGES) | dunders)


# A library never configures logging; this keeps "No handlers could be found"
# warnings away when the application configured none.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
