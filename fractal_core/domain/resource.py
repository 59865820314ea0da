"""Resources (where jobs run and packages install) and user profiles on them.

A `Resource` of type `local`, `slurm_sudo` or `slurm_ssh` carries the
reference's settings, typed; a `Profile` says who runs there (user name, SSH
key, remote folders). The rules per type are those of the reference's
`ValidResource*` / `ValidProfile*` schemas. SLURM memory values are kept as
given (int MB or a string such as "10G"); the SLURM executor parses them.
"""

from __future__ import annotations

import posixpath
from enum import StrEnum
from typing import Any
from typing import Literal

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import PositiveInt
from pydantic import field_validator
from pydantic import model_validator

from ..types import AbsolutePathStr
from ..types import DictStrStr
from ..types import NonEmptyStr
from ._time import get_timestamp

PythonVersionStr = Literal["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
"""Python versions accepted for task environments (2.17 set, plus 3.15 of 2.25)."""

MemoryValue = PositiveInt | NonEmptyStr


class ResourceType(StrEnum):
    """Kind of computing resource."""

    LOCAL = "local"
    SLURM_SUDO = "slurm_sudo"
    SLURM_SSH = "slurm_ssh"


class JobRunnerConfigLocal(BaseModel):
    """Local runner settings: how many units of one task run at once."""

    model_config = ConfigDict(extra="forbid")
    parallel_tasks_per_job: PositiveInt | None = None


class SlurmConfigSet(BaseModel):
    """SLURM options for every task (or GPU tasks); newer fields parse too."""

    model_config = ConfigDict(extra="forbid")
    partition: NonEmptyStr | None = None
    cpus_per_task: PositiveInt | None = None
    mem: MemoryValue | None = None
    constraint: NonEmptyStr | None = None
    gres: NonEmptyStr | None = None
    gpus: NonEmptyStr | None = None
    exclude: NonEmptyStr | None = None
    nodelist: NonEmptyStr | None = None
    time: NonEmptyStr | None = None
    account: NonEmptyStr | None = None
    extra_lines: list[NonEmptyStr] = Field(default_factory=list)
    shebang_line: NonEmptyStr | None = None
    use_mem_per_cpu: bool = False
    nodes: PositiveInt | None = None


class BatchingConfigSet(BaseModel):
    """Soft/hard limits used to pack units into SLURM jobs."""

    model_config = ConfigDict(extra="forbid")
    target_num_jobs: PositiveInt
    max_num_jobs: PositiveInt
    target_cpus_per_job: PositiveInt
    max_cpus_per_job: PositiveInt
    target_mem_per_job: MemoryValue
    max_mem_per_job: MemoryValue


class JobRunnerConfigSLURM(BaseModel):
    """SLURM runner settings of a resource (`JobRunnerConfigSLURM`)."""

    model_config = ConfigDict(extra="forbid")
    default_slurm_config: SlurmConfigSet
    gpu_slurm_config: SlurmConfigSet | None = None
    batching_config: BatchingConfigSet
    user_local_exports: DictStrStr = Field(default_factory=dict)


class TasksPythonSettings(BaseModel):
    """Base Python interpreters for task environments, by version."""

    model_config = ConfigDict(extra="forbid")
    default_version: PythonVersionStr
    versions: dict[PythonVersionStr, AbsolutePathStr]
    pip_cache_dir: AbsolutePathStr | None = None

    @model_validator(mode="after")
    def _default_available(self) -> TasksPythonSettings:
        if self.default_version not in self.versions:
            raise ValueError(
                f"The default Python version ('{self.default_version}') is not "
                f"available in {list(self.versions)}."
            )
        return self

    def pip_cache_args(self) -> list[str]:
        """`["--cache-dir", dir]` when a pip cache is set, else `["--no-cache-dir"]`."""
        if self.pip_cache_dir is None:
            return ["--no-cache-dir"]
        return ["--cache-dir", self.pip_cache_dir]


class PixiSLURMConfig(BaseModel):
    """sbatch options for running `pixi install` as a SLURM job (SSH resources)."""

    model_config = ConfigDict(extra="forbid")
    partition: NonEmptyStr
    cpus: PositiveInt
    mem: NonEmptyStr | None = None
    mem_per_cpu: NonEmptyStr | None = None
    time: NonEmptyStr
    preamble: list[NonEmptyStr] = Field(default_factory=list)

    @field_validator("mem", "mem_per_cpu")
    @classmethod
    def _has_unit(cls, value: str | None) -> str | None:
        if value is not None and value[-1] not in "KMGT":
            raise ValueError(
                f"Invalid memory requirement '{value}' for pixi: use a K/M/G/T suffix."
            )
        return value

    @model_validator(mode="after")
    def _one_memory(self) -> PixiSLURMConfig:
        if (self.mem is None) == (self.mem_per_cpu is None):
            raise ValueError("You must set either `mem` or `mem_per_cpu`.")
        return self


class TasksPixiSettings(BaseModel):
    """Pixi installations (`<folder named as the version>/bin/pixi`) and options."""

    model_config = ConfigDict(extra="forbid")
    versions: DictStrStr
    default_version: NonEmptyStr
    PIXI_CONCURRENT_SOLVES: PositiveInt = 4
    PIXI_CONCURRENT_DOWNLOADS: PositiveInt = 4
    TOKIO_WORKER_THREADS: PositiveInt = 2
    DEFAULT_ENVIRONMENT: NonEmptyStr = "default"
    DEFAULT_PLATFORM: NonEmptyStr = "linux-64"
    SLURM_CONFIG: PixiSLURMConfig | None = None

    @model_validator(mode="after")
    def _versions_layout(self) -> TasksPixiSettings:
        if self.default_version not in self.versions:
            raise ValueError(
                f"Default version '{self.default_version}' not in available "
                f"versions {list(self.versions)}."
            )
        base = posixpath.dirname(self.versions[self.default_version])
        for version, folder in self.versions.items():
            if posixpath.dirname(folder) != base:
                raise ValueError(f"Pixi folder '{folder}' is not inside '{base}'.")
            if posixpath.basename(folder) != version:
                raise ValueError(
                    f"Pixi folder '{folder}' must be named as its version '{version}'."
                )
        return self


class Resource(BaseModel):
    """A place where jobs run and task packages are installed.

    `jobs_runner_config` is validated as `JobRunnerConfigLocal` or
    `JobRunnerConfigSLURM` according to `type`. SLURM resources need
    `jobs_slurm_python_worker`; SSH resources need `host`; other types must
    leave them unset. `tasks_python_config` may be `None` when the resource
    is not used for collection (the reference requires it).
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    type: ResourceType
    name: NonEmptyStr
    timestamp_created: AwareDatetime = Field(default_factory=get_timestamp)
    host: NonEmptyStr | None = None
    jobs_local_dir: AbsolutePathStr
    jobs_runner_config: JobRunnerConfigLocal | JobRunnerConfigSLURM
    jobs_slurm_python_worker: AbsolutePathStr | None = None
    jobs_poll_interval: PositiveInt = 5
    tasks_local_dir: AbsolutePathStr
    tasks_python_config: TasksPythonSettings | None = None
    tasks_pixi_config: TasksPixiSettings | None = None
    prevent_new_submissions: bool = False

    @model_validator(mode="before")
    @classmethod
    def _typed_runner_config(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = data.get("type")
        config = data.get("jobs_runner_config", {})
        if data.get("tasks_pixi_config") == {}:
            data["tasks_pixi_config"] = None  # the reference's "no pixi"
        if isinstance(config, BaseModel):
            config = config.model_dump(exclude_unset=True)
        if kind == ResourceType.LOCAL:
            data["jobs_runner_config"] = JobRunnerConfigLocal.model_validate(config)
        elif kind in (ResourceType.SLURM_SUDO, ResourceType.SLURM_SSH):
            data["jobs_runner_config"] = JobRunnerConfigSLURM.model_validate(config)
        return data

    @model_validator(mode="after")
    def _rules_by_type(self) -> Resource:
        slurm = self.type != ResourceType.LOCAL
        if slurm and self.jobs_slurm_python_worker is None:
            raise ValueError(
                f"Resource '{self.name}' of type '{self.type}' needs "
                "`jobs_slurm_python_worker`."
            )
        if not slurm and self.jobs_slurm_python_worker is not None:
            raise ValueError(
                "`jobs_slurm_python_worker` must be None for local resources."
            )
        if (self.type == ResourceType.SLURM_SSH) != (self.host is not None):
            raise ValueError(
                f"`host` is required for slurm_ssh resources and must be None "
                f"otherwise (type '{self.type}', host={self.host!r})."
            )
        if (
            self.type == ResourceType.SLURM_SSH
            and self.tasks_pixi_config is not None
            and self.tasks_pixi_config.SLURM_CONFIG is None
        ):
            raise ValueError("`tasks_pixi_config` must include `SLURM_CONFIG`.")
        return self


class Profile(BaseModel):
    """Who runs jobs on a resource: nothing (local), a user (sudo), or SSH access."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    resource_id: int | None = None
    resource_type: ResourceType
    name: NonEmptyStr
    username: NonEmptyStr | None = None
    ssh_key_path: AbsolutePathStr | None = None
    jobs_remote_dir: AbsolutePathStr | None = None
    tasks_remote_dir: AbsolutePathStr | None = None
    pixi_cache_dir: AbsolutePathStr | None = None

    @model_validator(mode="after")
    def _rules_by_type(self) -> Profile:
        ssh_only = ("ssh_key_path", "jobs_remote_dir", "tasks_remote_dir")
        if self.resource_type == ResourceType.SLURM_SSH:
            required: tuple[str, ...] = ("username", *ssh_only)
            forbidden: tuple[str, ...] = ()
        elif self.resource_type == ResourceType.SLURM_SUDO:
            required = ("username",)
            forbidden = (*ssh_only, "pixi_cache_dir")
        else:
            required = ()
            forbidden = ("username", *ssh_only, "pixi_cache_dir")
        missing = [name for name in required if getattr(self, name) is None]
        extra = [name for name in forbidden if getattr(self, name) is not None]
        if missing or extra:
            raise ValueError(
                f"Profile '{self.name}' for a '{self.resource_type}' resource: "
                f"missing {missing}, not allowed {extra}."
            )
        return self

    def check_matches(self, resource: Resource) -> None:
        """Refuse a profile used with a resource of another type or id."""
        if resource.type != self.resource_type or (
            None not in (resource.id, self.resource_id)
            and resource.id != self.resource_id
        ):
            raise ValueError(
                f"Profile '{self.name}' (type {self.resource_type}, resource "
                f"{self.resource_id}) does not match resource '{resource.name}' "
                f"(type {resource.type}, id {resource.id})."
            )
