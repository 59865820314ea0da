"""Executors: run units of work (task command runs) and report per-unit results."""

from __future__ import annotations

from ._resources import parse_mem_mb
from ._resources import parse_time_limit_s
from ._unit import ExecutableCheck
from ._unit import local_executable_check
from .base import Executor
from .base import ExecutorCapabilities
from .base import ExecutorError
from .base import FailureKind
from .base import Handle
from .base import ResourceRequest
from .base import ResourceRequestError
from .base import UnitBatch
from .base import UnitFailure
from .base import UnitResult
from .base import UnitState
from .base import UnitStatus
from .base import WorkUnit
from .inline import CompletedHandle
from .inline import InlineExecutor
from .local import AttachedHandle
from .local import LocalExecutor
from .local import LocalHandle

__all__ = [
    "AttachedHandle",
    "CompletedHandle",
    "ExecutableCheck",
    "Executor",
    "ExecutorCapabilities",
    "ExecutorError",
    "FailureKind",
    "Handle",
    "InlineExecutor",
    "LocalExecutor",
    "LocalHandle",
    "ResourceRequest",
    "ResourceRequestError",
    "UnitBatch",
    "UnitFailure",
    "UnitResult",
    "UnitState",
    "UnitStatus",
    "WorkUnit",
    "local_executable_check",
    "parse_mem_mb",
    "parse_time_limit_s",
]
