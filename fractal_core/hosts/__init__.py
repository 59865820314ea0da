"""Hosts: where commands run and files live (local, via sudo; SSH later)."""

from __future__ import annotations

from .base import CommandFailedError
from .base import CommandResult
from .base import CommandTimeoutError
from .base import Host
from .base import HostError
from .base import UnsafePathError
from .base import is_strictly_inside
from .local import LocalHost
from .ssh import SSHHost
from .sudo import SudoHost

__all__ = [
    "CommandFailedError",
    "CommandResult",
    "CommandTimeoutError",
    "Host",
    "HostError",
    "LocalHost",
    "SSHHost",
    "SudoHost",
    "UnsafePathError",
    "is_strictly_inside",
]
