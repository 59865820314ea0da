"""Collection settings: base folder, Python interpreters, pip and pixi options.

These play the role of the reference's `Resource.tasks_*` fields and
`TasksPythonSettings` / `TasksPixiSettings`, as plain validated objects that the
caller builds (from a file, a repository or code) and passes in.
"""

from __future__ import annotations

import os
import posixpath
from typing import Annotated
from typing import Self

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import PositiveFloat
from pydantic import PositiveInt
from pydantic import model_validator

from ..types.strings import has_dotdot_component
from .errors import PixiNotAvailable
from .errors import PythonVersionNotAvailable
from .lock_heartbeat import HEARTBEAT_INTERVAL
from .lock_heartbeat import HEARTBEAT_STALE_AFTER
from .specs import PythonVersion

_FORBIDDEN = set("`#$&*()\\|[]{};<>?!\n\x00")


def _safe_abs_path(value: str) -> str:
    """Absolute, no `..` components, no shell metacharacters (checked at load time)."""
    value = value.strip()
    if not posixpath.isabs(value):
        raise ValueError(f"String must be an absolute path (given {value!r}).")
    if has_dotdot_component(value):
        raise ValueError(f"Path {value!r} must not contain '..' components.")
    bad = sorted(_FORBIDDEN.intersection(value))
    if bad:
        raise ValueError(f"Path {value!r} contains forbidden characters {bad}.")
    return value.rstrip("/") or "/"


SafeAbsPath = Annotated[str, AfterValidator(_safe_abs_path)]


class PythonSettings(BaseModel):
    """Base interpreters used to create task environments (`python -m venv`)."""

    model_config = ConfigDict(extra="forbid")

    default_version: PythonVersion
    versions: dict[PythonVersion, SafeAbsPath]
    pip_cache_dir: SafeAbsPath | None = None

    @model_validator(mode="after")
    def _default_is_available(self) -> Self:
        if self.default_version not in self.versions:
            raise ValueError(
                f"The default Python version ({self.default_version!r}) is not "
                f"available in {list(self.versions)}."
            )
        return self

    def interpreter(self, version: str | None) -> tuple[str, str]:
        """Return `(version, interpreter path)`, the default when `version` is None."""
        version = version or self.default_version
        if version not in self.versions:
            raise PythonVersionNotAvailable(
                f"Python version {version!r} is not available "
                f"(configured: {sorted(self.versions)})."
            )
        return version, self.versions[version]  # type: ignore[index]

    def pip_cache_args(self) -> list[str]:
        """`--cache-dir <dir>` when a cache is configured, else `--no-cache-dir`."""
        if self.pip_cache_dir is None:
            return ["--no-cache-dir"]
        return ["--cache-dir", self.pip_cache_dir]


class PixiSettings(BaseModel):
    """Pixi installations available for collection (`<home>/bin/pixi`)."""

    model_config = ConfigDict(extra="forbid")

    versions: dict[str, SafeAbsPath]
    default_version: str
    PIXI_CONCURRENT_SOLVES: PositiveInt = 4
    PIXI_CONCURRENT_DOWNLOADS: PositiveInt = 4
    TOKIO_WORKER_THREADS: PositiveInt = 2
    DEFAULT_ENVIRONMENT: str = "default"
    DEFAULT_PLATFORM: str = "linux-64"
    cache_dir: SafeAbsPath | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.default_version not in self.versions:
            raise ValueError(
                f"Default version {self.default_version!r} not in available "
                f"versions {list(self.versions)}."
            )
        parent = posixpath.dirname(self.versions[self.default_version])
        for key, value in self.versions.items():
            if posixpath.dirname(value) != parent:
                raise ValueError(f"{value!r} is not located within {parent!r}.")
            if posixpath.basename(value) != key:
                raise ValueError(
                    f"Last path component of {value!r} is not equal to {key!r}."
                )
        return self

    def home(self, version: str | None) -> tuple[str, str]:
        """Return `(version, PIXI_HOME)`, the default when `version` is None."""
        version = version or self.default_version
        if version not in self.versions:
            raise PixiNotAvailable(
                f"Pixi version {version!r} is not available. "
                f"Available versions: {list(self.versions)}."
            )
        return version, self.versions[version]


class CollectionSettings(BaseModel):
    """Everything a collection or lifecycle operation needs besides its inputs."""

    model_config = ConfigDict(extra="forbid")

    base_dir: SafeAbsPath
    """Folder holding every task group (`<base_dir>/<owner>/<pkg>/<version>`)."""
    python: PythonSettings
    pixi: PixiSettings | None = None
    upgrade_pip: bool = True
    """Upgrade pip and setuptools in each new venv (the reference always does)."""
    reference_version_rules: bool = False
    """Resolve PyPI versions with 2.17.0's string rules instead of PEP 440 ones."""
    index_url: str | None = None
    """Alternative package index for pip (`--index-url`); None keeps pip's own."""
    step_timeout: PositiveFloat | None = Field(default=3600.0)
    """Kill any single command (venv, pip, pixi, script) running longer than this
    many seconds and fail the operation; None waits forever."""
    lock_timeout: float = -1
    """Seconds to wait for a package-folder lock; -1 waits forever."""
    lock_dir: SafeAbsPath | None = None
    """Folder for lock files on LocalHost; None puts `<path>.lock` next to each folder.

    Other hosts always lock with a `<path>.lock` folder on the host itself.
    """
    lock_heartbeat_interval: PositiveFloat | None = HEARTBEAT_INTERVAL
    """Seconds between heartbeats of a lock held on another host (`HostLock`);
    None writes none (other machines then never judge it by its heartbeat)."""
    lock_heartbeat_stale_after: PositiveFloat | None = HEARTBEAT_STALE_AFTER
    """A host lock of another machine whose heartbeat is older than this many
    seconds is taken over; None never judges a lock by its heartbeat."""

    def pixi_settings(self) -> PixiSettings:
        """The pixi settings, or `PixiNotAvailable`."""
        if self.pixi is None:
            raise PixiNotAvailable("Pixi task collection is not available.")
        return self.pixi

    @classmethod
    def for_current_python(cls, base_dir: str, **kwargs: object) -> CollectionSettings:
        """Settings using this process's interpreter as the only Python version."""
        import sys

        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        python = PythonSettings(
            default_version=version,  # type: ignore[arg-type]
            versions={version: os.path.realpath(sys.executable)},  # type: ignore[dict-item]
            pip_cache_dir=kwargs.pop("pip_cache_dir", None),  # type: ignore[arg-type]
        )
        return cls(base_dir=base_dir, python=python, **kwargs)  # type: ignore[arg-type]
