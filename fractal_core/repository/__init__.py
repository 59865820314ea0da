"""Persistence behind a protocol: in memory by default, SQL (SQLite, PostgreSQL)
for deployments. See `base.py` for the contract."""

from __future__ import annotations

from .base import ConflictError
from .base import DatasetRepository
from .base import ImagePage
from .base import JobRepository
from .base import NotFoundError
from .base import PaginationError
from .base import ProjectRepository
from .base import RepositoryError
from .base import SchemaVersionError
from .base import Store
from .base import StoreRecorder
from .base import TaskGroupRepository
from .base import UnitOfWork
from .base import WorkflowRepository
from .memory import MemoryStore

__all__ = [
    "ConflictError",
    "DatasetRepository",
    "ImagePage",
    "JobRepository",
    "MemoryStore",
    "NotFoundError",
    "PaginationError",
    "ProjectRepository",
    "RepositoryError",
    "SchemaVersionError",
    "Store",
    "StoreRecorder",
    "TaskGroupRepository",
    "UnitOfWork",
    "WorkflowRepository",
]
