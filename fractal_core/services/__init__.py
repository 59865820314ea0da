"""The reference's business rules as plain functions over a `Store`.

Each function takes the store first, opens one unit of work and commits it
only when every rule passed, so a refused call changes nothing. Errors are
`ServiceError` subclasses (see `errors.py`), the repository's `NotFoundError`
for missing objects, `pydantic.ValidationError` for malformed input, and the
domain's and io's own errors where they already exist. The mapping from the
reference's API routes to these functions is in `docs/services.md`.
"""

from __future__ import annotations

from .checks import check_non_processed_images
from .checks import verify_unique_types
from .datasets import create_dataset
from .datasets import default_zarr_dir
from .datasets import delete_dataset
from .datasets import export_dataset
from .datasets import get_dataset
from .datasets import import_dataset
from .datasets import list_datasets
from .datasets import update_dataset
from .errors import ActiveJobError
from .errors import DatasetBusyError
from .errors import EmptyWorkflowError
from .errors import InactiveTaskError
from .errors import InvalidReorderError
from .errors import InvalidTaskRangeError
from .errors import InvalidValueError
from .errors import JobNotRunningError
from .errors import MultipleRunningJobsError
from .errors import NameConflictError
from .errors import ResourceMismatchError
from .errors import ServiceError
from .errors import SlurmAccountError
from .errors import TaskTypeChangeError
from .errors import TypeFiltersConflictError
from .errors import WorkflowTaskArgumentsError
from .errors import WrongParentError
from .errors import ZarrDirFrozenError
from .errors import ZarrDirRequiredError
from .history import HistoryRelationError
from .history import LogNotAvailableError
from .history import RunSummary
from .history import dataset_history
from .history import history_images
from .history import history_run_units
from .history import history_runs
from .history import image_log
from .history import legacy_status
from .history import unit_log
from .history import workflow_tasks_status
from .images import add_image
from .images import delete_image
from .images import get_image
from .images import patch_image
from .images import query_images
from .jobs import DEFAULT_REGISTRY
from .jobs import SHUTDOWN_FILENAME
from .jobs import JobRegistry
from .jobs import get_job
from .jobs import job_progress
from .jobs import latest_job
from .jobs import list_jobs
from .jobs import recover_jobs
from .jobs import request_stop
from .jobs import submit_job
from .projects import create_project
from .projects import delete_project
from .projects import get_project
from .projects import list_projects
from .projects import rename_project
from .workflow_tasks import create_workflow_task
from .workflow_tasks import delete_workflow_task
from .workflow_tasks import get_workflow_task
from .workflow_tasks import replace_workflow_task
from .workflow_tasks import update_workflow_task
from .workflow_tasks import version_update_candidates
from .workflows import WorkflowRead
from .workflows import create_workflow
from .workflows import delete_workflow
from .workflows import export_workflow
from .workflows import get_workflow
from .workflows import import_workflow
from .workflows import list_workflows
from .workflows import type_filters_flow
from .workflows import update_workflow

__all__ = [
    "HistoryRelationError",
    "LogNotAvailableError",
    "RunSummary",
    "dataset_history",
    "history_images",
    "history_run_units",
    "history_runs",
    "image_log",
    "legacy_status",
    "unit_log",
    "workflow_tasks_status",
    "DEFAULT_REGISTRY",
    "SHUTDOWN_FILENAME",
    "ActiveJobError",
    "DatasetBusyError",
    "EmptyWorkflowError",
    "InactiveTaskError",
    "InvalidReorderError",
    "InvalidTaskRangeError",
    "InvalidValueError",
    "JobNotRunningError",
    "JobRegistry",
    "MultipleRunningJobsError",
    "NameConflictError",
    "ResourceMismatchError",
    "ServiceError",
    "SlurmAccountError",
    "TaskTypeChangeError",
    "TypeFiltersConflictError",
    "WorkflowRead",
    "WorkflowTaskArgumentsError",
    "WrongParentError",
    "ZarrDirFrozenError",
    "ZarrDirRequiredError",
    "add_image",
    "check_non_processed_images",
    "create_dataset",
    "create_project",
    "create_workflow",
    "create_workflow_task",
    "default_zarr_dir",
    "delete_dataset",
    "delete_image",
    "delete_project",
    "delete_workflow",
    "delete_workflow_task",
    "export_dataset",
    "export_workflow",
    "get_dataset",
    "get_image",
    "get_job",
    "job_progress",
    "get_project",
    "get_workflow",
    "get_workflow_task",
    "import_dataset",
    "import_workflow",
    "latest_job",
    "list_datasets",
    "list_jobs",
    "recover_jobs",
    "list_projects",
    "list_workflows",
    "patch_image",
    "query_images",
    "rename_project",
    "replace_workflow_task",
    "request_stop",
    "submit_job",
    "type_filters_flow",
    "update_dataset",
    "update_workflow",
    "update_workflow_task",
    "verify_unique_types",
    "version_update_candidates",
]
