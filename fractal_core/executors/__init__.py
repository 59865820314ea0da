"""Executors: run units of work (task command runs) and report per-unit results."""

from __future__ import annotations

from .base import Executor
from .base import ExecutorError
from .base import FailureKind
from .base import Handle
from .base import ResourceRequest
from .base import UnitFailure
from .base import UnitResult
from .base import UnitStatus
from .base import WorkUnit
from .inline import CompletedHandle
from .inline import InlineExecutor
from .local import LocalExecutor
from .local import LocalHandle

__all__ = [
    "CompletedHandle",
    "Executor",
    "ExecutorError",
    "FailureKind",
    "Handle",
    "InlineExecutor",
    "LocalExecutor",
    "LocalHandle",
    "ResourceRequest",
    "UnitFailure",
    "UnitResult",
    "UnitStatus",
    "WorkUnit",
]
