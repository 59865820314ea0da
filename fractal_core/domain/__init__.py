"""Domain objects: plain pydantic models, usable without any database."""

from __future__ import annotations

from .arguments import ENGINE_SUPPLIED_ARGUMENTS
from .arguments import validate_arguments
from .dataset import Dataset
from .dataset import DatasetExport
from .dataset import DatasetImport
from .dumps import DatasetDump
from .dumps import ProjectDump
from .dumps import TaskDump
from .dumps import TaskGroupDump
from .dumps import WorkflowDump
from .dumps import WorkflowTaskDump
from .dumps import dump_dataset
from .dumps import dump_project
from .dumps import dump_task
from .dumps import dump_task_group
from .dumps import dump_workflow
from .dumps import dump_workflow_task
from .errors import ArgumentValidationError
from .errors import DuplicateTaskNameError
from .errors import InvalidTaskError
from .errors import InvalidTaskGroupOperation
from .errors import InvalidTaskUpdateError
from .errors import WorkflowEditError
from .history import HistoryImageCache
from .history import HistoryRun
from .history import HistoryUnit
from .history import HistoryUnitStatus
from .history import HistoryUnitStatusWithUnset
from .history import log_has_warnings
from .history import unit_counts
from .job import Job
from .job import JobCreate
from .job import JobStatus
from .project import Project
from .resource import Profile
from .resource import Resource
from .resource import ResourceType
from .task import LEGACY_TASK_VERSION
from .task import Task
from .task import TaskType
from .task import TaskUpdate
from .task_group import TaskGroup
from .task_group import TaskGroupActivity
from .task_group import TaskGroupActivityAction
from .task_group import TaskGroupActivityStatus
from .task_group import TaskGroupOrigin
from .updates import DatasetUpdate
from .updates import ProjectUpdate
from .updates import WorkflowUpdate
from .workflow import Workflow
from .workflow_task import WorkflowTask
from .workflow_task import WorkflowTaskUpdate

__all__ = [
    "ENGINE_SUPPLIED_ARGUMENTS",
    "LEGACY_TASK_VERSION",
    "ArgumentValidationError",
    "Dataset",
    "DatasetDump",
    "DatasetExport",
    "DatasetImport",
    "DatasetUpdate",
    "DuplicateTaskNameError",
    "HistoryImageCache",
    "HistoryRun",
    "HistoryUnit",
    "HistoryUnitStatus",
    "HistoryUnitStatusWithUnset",
    "InvalidTaskError",
    "InvalidTaskGroupOperation",
    "InvalidTaskUpdateError",
    "Job",
    "JobCreate",
    "JobStatus",
    "Profile",
    "Project",
    "ProjectDump",
    "ProjectUpdate",
    "Resource",
    "ResourceType",
    "Task",
    "TaskDump",
    "TaskGroup",
    "TaskGroupActivity",
    "TaskGroupActivityAction",
    "TaskGroupActivityStatus",
    "TaskGroupDump",
    "TaskGroupOrigin",
    "TaskType",
    "TaskUpdate",
    "Workflow",
    "WorkflowDump",
    "WorkflowEditError",
    "WorkflowTask",
    "WorkflowTaskDump",
    "WorkflowTaskUpdate",
    "WorkflowUpdate",
    "dump_dataset",
    "dump_project",
    "dump_task",
    "dump_task_group",
    "dump_workflow",
    "dump_workflow_task",
    "log_has_warnings",
    "unit_counts",
    "validate_arguments",
]
