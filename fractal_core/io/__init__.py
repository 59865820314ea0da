"""Workflow and dataset files in fractal-server's JSON format, and task matching.

Files written by fractal-server 2.17.0 and by 2.19+ (workflow ``description``,
workflow-task ``alias``/``description``) are read; exports use the 2.19+ shape
with the task version always set. Task references are matched by package,
exact version and task name, with ownership deciding between equal versions.
"""

from __future__ import annotations

from .dataset_io import check_zarr_dir_in_project_dirs
from .dataset_io import export_dataset
from .dataset_io import export_dataset_file
from .dataset_io import import_dataset
from .dataset_io import import_dataset_file
from .dataset_io import parse_dataset_import
from .errors import DatasetImportError
from .errors import ImportTypeFiltersError
from .errors import LegacyTaskSourceError
from .errors import TaskResolutionError
from .errors import WorkflowImportError
from .matching import AvailableTask
from .matching import Ownership
from .matching import ResolutionFailure
from .matching import TaskGroupDisambiguationError
from .matching import TaskResolution
from .matching import accessible_task_groups
from .matching import disambiguate_task_groups
from .matching import group_task_groups_by_package
from .matching import group_version
from .matching import remove_duplicate_task_groups
from .matching import resolve_task_reference
from .matching import resolve_task_references
from .schemas import TaskExport
from .schemas import TaskImport
from .schemas import WorkflowExport
from .schemas import WorkflowImport
from .schemas import WorkflowTaskExport
from .schemas import WorkflowTaskImport
from .versions import sort_versions_newest_first
from .versions import version_sort_key
from .workflow_io import ResolvedWorkflow
from .workflow_io import ResolvedWorkflowTask
from .workflow_io import WorkflowExportError
from .workflow_io import build_workflow
from .workflow_io import export_workflow
from .workflow_io import export_workflow_file
from .workflow_io import find_legacy_source_references
from .workflow_io import import_workflow
from .workflow_io import import_workflow_file
from .workflow_io import parse_workflow_import
from .workflow_io import resolve_workflow_import

__all__ = [
    "AvailableTask",
    "DatasetImportError",
    "ImportTypeFiltersError",
    "LegacyTaskSourceError",
    "Ownership",
    "ResolutionFailure",
    "ResolvedWorkflow",
    "ResolvedWorkflowTask",
    "TaskExport",
    "TaskGroupDisambiguationError",
    "TaskImport",
    "TaskResolution",
    "TaskResolutionError",
    "WorkflowExport",
    "WorkflowExportError",
    "WorkflowImport",
    "WorkflowImportError",
    "WorkflowTaskExport",
    "WorkflowTaskImport",
    "accessible_task_groups",
    "build_workflow",
    "check_zarr_dir_in_project_dirs",
    "disambiguate_task_groups",
    "export_dataset",
    "export_dataset_file",
    "export_workflow",
    "export_workflow_file",
    "find_legacy_source_references",
    "group_task_groups_by_package",
    "group_version",
    "import_dataset",
    "import_dataset_file",
    "import_workflow",
    "import_workflow_file",
    "parse_dataset_import",
    "parse_workflow_import",
    "remove_duplicate_task_groups",
    "resolve_task_reference",
    "resolve_task_references",
    "resolve_workflow_import",
    "sort_versions_newest_first",
    "version_sort_key",
]
