"""Domain objects: plain pydantic models, usable without any database."""

from __future__ import annotations

from .errors import ArgumentValidationError
from .errors import DuplicateTaskNameError
from .errors import InvalidTaskError
from .errors import InvalidTaskGroupOperation
from .errors import InvalidTaskUpdateError
from .errors import WorkflowEditError
from .task import LEGACY_TASK_VERSION
from .task import Task
from .task import TaskType
from .task import TaskUpdate
from .task_group import TaskGroup
from .task_group import TaskGroupActivity
from .task_group import TaskGroupActivityAction
from .task_group import TaskGroupActivityStatus
from .task_group import TaskGroupOrigin

__all__ = [
    "LEGACY_TASK_VERSION",
    "ArgumentValidationError",
    "DuplicateTaskNameError",
    "InvalidTaskError",
    "InvalidTaskGroupOperation",
    "InvalidTaskUpdateError",
    "Task",
    "TaskGroup",
    "TaskGroupActivity",
    "TaskGroupActivityAction",
    "TaskGroupActivityStatus",
    "TaskGroupOrigin",
    "TaskType",
    "TaskUpdate",
    "WorkflowEditError",
]
