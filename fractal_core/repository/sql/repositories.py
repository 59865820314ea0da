"""The five aggregate repositories over one SQLAlchemy `Session`.

Each method maps domain objects to rows and back, never handing out a row:
callers get fresh pydantic objects. Statements run on the unit of work's
session and become visible to others only on its commit. One module per
aggregate (`projects`, `datasets`, `task_groups`, `workflows`, `jobs`,
helpers in `session_tools`); this module gathers them for existing imports.
"""

from __future__ import annotations

from .datasets import SQLDatasetRepository
from .jobs import SQLJobRepository
from .projects import SQLProjectRepository
from .session_tools import count_rows
from .session_tools import for_writing
from .task_groups import SQLTaskGroupRepository
from .workflows import SQLWorkflowRepository

__all__ = [
    "SQLDatasetRepository",
    "SQLJobRepository",
    "SQLProjectRepository",
    "SQLTaskGroupRepository",
    "SQLWorkflowRepository",
    "count_rows",
    "for_writing",
]
