"""SLURM configuration: the resource's settings and the per-task `SlurmConfig`.

`SlurmResourceConfig` is the cluster-level configuration a resource carries
(fractal-server's `JobRunnerConfigSLURM`): default options, GPU options used
when a task's meta says `needs_gpu`, batching limits and `user_local_exports`.
`slurm_config_for` merges it with a workflow task's meta into a `SlurmConfig`
and runs the batching heuristics, in the reference's order (`get_slurm_config`):

1. default options that were explicitly set (`mem` becomes `mem_per_task_MB`);
2. the six batching limits;  3. `user_local_exports`;
4. with `needs_gpu` (a bool or "true"/"false") the GPU options explicitly set
   overwrite key by key (a GPU `extra_lines` replaces the default one);
5. meta `cpus_per_task`;  6. meta `mem` (`slurm_mem_to_mb`);
7. `job_name` = the task name with spaces replaced by `_`;
8. meta `account` is refused: the account comes from the job (`slurm_account`);
9. meta `time`, `gres`, `gpus`, `constraint`, `nodelist`, `exclude`, `nodes`;
10. `extra_lines` = configured + meta lines, repeated lines dropped;
11. meta `tasks_per_job`, `parallel_tasks_per_job`;
12. then the job's own values, as the reference's runner adds them to every
    call: `slurm_account` replaces the account, `worker_init` lines are added
    (a `#SBATCH` line to the directives, any other line to
    `pre_submission_commands`, run in the script before the units);
13. `heuristics` fixes `tasks_per_job` and `parallel_tasks_per_job`.

Differences from the reference, on purpose: repeated extra lines are dropped
keeping the first occurrence in order (the reference goes through a `set`, so
`module load` order could change between runs); `worker_init` lines that repeat
a configured line are dropped instead of failing the script; values are checked
at once (positive numbers; no newline, NUL or backslash in an sbatch option;
shell-identifier export names) with `SlurmConfigError` naming the key and the
value; `#SBATCH` extra lines may not set what the configuration writes itself
(partition, ntasks, CPUs, memory, job name, output and error files, working
folder, account). `mem_option="mem-per-cpu"` writes `--mem-per-cpu` instead of
`--mem`, for clusters that require it (fractal-server 2.18's `use_mem_per_cpu`
is read too); `nodes` (2.19) and `shebang_line` (2.18) are accepted.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import PositiveInt
from pydantic import ValidationError
from pydantic import field_validator
from pydantic import model_validator

from ...types.strings import interpret_as_bool
from .batching import heuristics
from .memory import SlurmConfigError
from .memory import slurm_mem_to_mb

__all__ = [
    "FORBIDDEN_EXTRA_OPTIONS",
    "SlurmBatchingConfig",
    "SlurmConfig",
    "SlurmOptions",
    "SlurmResourceConfig",
    "merge_slurm_config",
    "slurm_config_for",
]

logger = logging.getLogger(__name__)

FORBIDDEN_EXTRA_OPTIONS: frozenset[str] = frozenset(
    {
        "--partition",
        "--ntasks",
        "--cpus-per-task",
        "--mem",
        "--mem-per-cpu",
        "--job-name",
        "--output",
        "--error",
        "--chdir",
        "--account",
        "--comment",
        "-p",
        "-n",
        "-c",
        "-J",
        "-o",
        "-e",
        "-D",
        "-A",
    }
)
"""sbatch options an `#SBATCH` extra line may not set: the executor writes them."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\x00]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OVERRIDABLE_KEYS = ("time", "gres", "gpus", "constraint", "nodelist", "exclude")


def _option_value(value: str) -> str:
    """An sbatch option value: no control character and no backslash.

    sbatch reads `#SBATCH` lines with its own quoting rules, in which a
    backslash escapes the next character even inside quotes, and a newline
    would end the comment line and start a shell command.
    """
    if _CONTROL.search(value) or "\\" in value:
        raise ValueError(
            f"{value!r} holds a control character or a backslash, which cannot "
            "be written into an #SBATCH line"
        )
    return value


def _one_line(value: str) -> str:
    if _LINE_BREAKS.search(value):
        raise ValueError(f"{value!r} must be a single line (no CR, LF or NUL)")
    return value


def _mem_value(value: int | str) -> int:
    return slurm_mem_to_mb(value)


OptionStr = Annotated[str, Field(min_length=1), AfterValidator(_option_value)]
LineStr = Annotated[str, AfterValidator(_one_line)]
MemMB = Annotated[PositiveInt | str, AfterValidator(_mem_value)]


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else item for item in value]
    return value


class SlurmOptions(BaseModel):
    """SLURM options of a resource, for every task or for GPU tasks.

    `mem` is read with `slurm_mem_to_mb` (decimal MB). `use_mem_per_cpu` is
    fractal-server 2.18's switch and means `mem_option="mem-per-cpu"`.
    """

    model_config = ConfigDict(extra="forbid")

    partition: OptionStr | None = None
    cpus_per_task: PositiveInt | None = None
    mem: MemMB | None = None
    constraint: OptionStr | None = None
    gres: OptionStr | None = None
    gpus: OptionStr | None = None
    exclude: OptionStr | None = None
    nodelist: OptionStr | None = None
    time: OptionStr | None = None
    account: OptionStr | None = None
    nodes: PositiveInt | None = None
    extra_lines: list[Annotated[LineStr, Field(min_length=1)]] = Field(
        default_factory=list
    )
    shebang_line: LineStr | None = None
    use_mem_per_cpu: bool | None = None
    mem_option: Literal["mem", "mem-per-cpu"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _strip_strings(cls, data: Any) -> Any:
        """Strip surrounding whitespace, as the reference's `NonEmptyStr` does."""
        if isinstance(data, Mapping):
            return {key: _strip(value) for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _consistent_mem_option(self) -> SlurmOptions:
        if (
            self.use_mem_per_cpu is not None
            and self.mem_option is not None
            and self.use_mem_per_cpu != (self.mem_option == "mem-per-cpu")
        ):
            raise ValueError(
                f"use_mem_per_cpu={self.use_mem_per_cpu} contradicts "
                f"mem_option={self.mem_option!r}"
            )
        return self

    def chosen_mem_option(self) -> Literal["mem", "mem-per-cpu"] | None:
        """The memory option these options ask for, None if they say nothing."""
        if self.mem_option is not None:
            return self.mem_option
        if self.use_mem_per_cpu is not None:
            return "mem-per-cpu" if self.use_mem_per_cpu else "mem"
        return None


class SlurmBatchingConfig(BaseModel):
    """Soft (target) and hard (max) limits for packing units into SLURM jobs.

    Memory values are read with `slurm_mem_to_mb` (decimal MB).
    """

    model_config = ConfigDict(extra="forbid")

    target_num_jobs: PositiveInt
    max_num_jobs: PositiveInt
    target_cpus_per_job: PositiveInt
    max_cpus_per_job: PositiveInt
    target_mem_per_job: MemMB
    max_mem_per_job: MemMB


class SlurmResourceConfig(BaseModel):
    """A resource's SLURM settings (fractal-server's `JobRunnerConfigSLURM`).

    `user_local_exports` become `export KEY=<export dir>/<value>` lines in every
    script, the export dir being the user's cache folder on the cluster.
    """

    model_config = ConfigDict(extra="forbid")

    default_slurm_config: SlurmOptions
    gpu_slurm_config: SlurmOptions | None = None
    batching_config: SlurmBatchingConfig
    user_local_exports: dict[str, str] = Field(default_factory=dict)

    @field_validator("user_local_exports")
    @classmethod
    def _exports(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_exports(value)

    @classmethod
    def from_runner_config(
        cls, config: BaseModel | Mapping[str, Any]
    ) -> SlurmResourceConfig:
        """Build from `fractal_core.domain.JobRunnerConfigSLURM` or its JSON dict.

        Only the fields that were set are carried over, so "explicitly set"
        keeps its meaning for the merge. Raises `SlurmConfigError`.
        """
        data = (
            config.model_dump(exclude_unset=True)
            if isinstance(config, BaseModel)
            else dict(config)
        )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SlurmConfigError(
                f"Invalid SLURM resource configuration: {_errors(exc)}"
            ) from None


def _check_exports(value: Mapping[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if not _IDENTIFIER.fullmatch(key):
            raise ValueError(
                f"export name {key!r} is not a shell identifier "
                "([A-Za-z_][A-Za-z0-9_]*)"
            )
        _one_line(item)
    return dict(value)


def _directive_options(line: str, prefix: str) -> list[str]:
    """The option names an `#SBATCH` line sets (`--mem`, `-c`, ...)."""
    try:
        words = shlex.split(line[len(prefix) :], comments=False)
    except ValueError as exc:
        raise ValueError(f"extra line {line!r} cannot be split: {exc}") from None
    names = []
    for word in words:
        if word.startswith("--"):
            names.append(word.split("=", 1)[0])
        elif word.startswith("-") and len(word) >= 2:
            names.append(word[:2])
    return names


def _forbidden(name: str) -> bool:
    if name in FORBIDDEN_EXTRA_OPTIONS:
        return True
    # getopt_long accepts unambiguous abbreviations: --part means --partition.
    return (
        name.startswith("--")
        and len(name) > 3
        and any(
            full.startswith(name) for full in FORBIDDEN_EXTRA_OPTIONS if full[1] == "-"
        )
    )


class SlurmConfig(BaseModel):
    """The SLURM settings of one workflow task's submission (`SlurmConfig`).

    `mem_per_task_MB` is the memory of one unit in MB as SLURM reads `M` (see
    `memory`); a job asks for it times its slots (`--mem`), or per CPU
    (`--mem-per-cpu`, `mem_option`). The batching fields are set by
    `slurm_config_for`; `needs_gpu` makes units of a job run one at a time.
    `extra_lines` are written as they are: lines starting with `prefix` join the
    directives, others are shell lines run (as the job's user) before the units,
    followed by `pre_submission_commands` and the exports.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    partition: OptionStr
    cpus_per_task: PositiveInt
    mem_per_task_MB: PositiveInt
    prefix: Annotated[str, Field(pattern=r"^#[A-Za-z]+$")] = "#SBATCH"
    shebang_line: Annotated[LineStr, Field(pattern=r"^#!")] = "#!/bin/sh"

    job_name: OptionStr | None = None
    constraint: OptionStr | None = None
    gres: OptionStr | None = None
    gpus: OptionStr | None = None
    time: OptionStr | None = None
    account: OptionStr | None = None
    nodelist: OptionStr | None = None
    exclude: OptionStr | None = None
    nodes: PositiveInt | None = None
    mem_option: Literal["mem", "mem-per-cpu"] = "mem"
    needs_gpu: bool = False

    extra_lines: list[LineStr] = Field(default_factory=list)
    pre_submission_commands: list[LineStr] = Field(default_factory=list)
    user_local_exports: dict[str, str] = Field(default_factory=dict)

    tasks_per_job: PositiveInt | None = None
    parallel_tasks_per_job: PositiveInt | None = None
    target_cpus_per_job: PositiveInt
    max_cpus_per_job: PositiveInt
    target_mem_per_job: PositiveInt
    max_mem_per_job: PositiveInt
    target_num_jobs: PositiveInt
    max_num_jobs: PositiveInt

    @field_validator("user_local_exports")
    @classmethod
    def _exports(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_exports(value)

    @model_validator(mode="after")
    def _extra_lines_allowed(self) -> SlurmConfig:
        for line in self.extra_lines:
            if not line.startswith(self.prefix):
                continue
            for name in _directive_options(line, self.prefix):
                if _forbidden(name):
                    raise ValueError(
                        f"extra line {line!r} sets {name}, which the SLURM "
                        "configuration writes itself; use the matching field"
                    )
        return self

    @property
    def batch_size(self) -> int | None:
        """Units per SLURM job (`tasks_per_job`)."""
        return self.tasks_per_job

    def directive_extra_lines(self) -> list[str]:
        """The extra lines that are sbatch directives (start with `prefix`)."""
        return [line for line in self.extra_lines if line.startswith(self.prefix)]

    def shell_extra_lines(self) -> list[str]:
        """The extra lines that are shell lines (do not start with `prefix`)."""
        return [line for line in self.extra_lines if not line.startswith(self.prefix)]


def _errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{where}={err.get('input')!r}: {err['msg']}")
    return "; ".join(parts)


def _dedup(lines: Iterable[str]) -> list[str]:
    """Drop repeated lines, keeping the first occurrence of each, in order."""
    return list(dict.fromkeys(lines))


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SlurmConfigError(
            f"Invalid {key}={value!r} in the workflow task's meta: expected a "
            "positive integer."
        )
    return value


def _meta_lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SlurmConfigError(
            f"Invalid extra_lines={value!r} in the workflow task's meta: expected "
            "a list of strings."
        )
    for line in value:
        if not isinstance(line, str):
            raise SlurmConfigError(
                f"Invalid extra_lines entry {line!r} in the workflow task's meta: "
                "expected a string."
            )
    return list(value)


def merge_slurm_config(
    resource: SlurmResourceConfig,
    meta: Mapping[str, Any] | None,
    *,
    task_name: str | None = None,
    slurm_account: str | None = None,
    worker_init: str | None = None,
) -> SlurmConfig:
    """Steps 1 to 12 of `slurm_config_for` (no heuristics; batching as in meta).

    This is the reference's `_get_slurm_config_internal` plus the job's account
    and `worker_init`; its tests pin this step alone.
    """
    meta = dict(meta or {})
    default = resource.default_slurm_config
    merged: dict[str, Any] = default.model_dump(
        exclude_unset=True, exclude={"mem", "use_mem_per_cpu", "mem_option"}
    )
    if default.mem is not None:
        merged["mem_per_task_MB"] = default.mem
    mem_option = default.chosen_mem_option()
    merged.update(resource.batching_config.model_dump())
    merged["user_local_exports"] = dict(resource.user_local_exports)

    raw_gpu = meta.get("needs_gpu", False)
    try:
        needs_gpu = interpret_as_bool(raw_gpu)
    except (TypeError, ValueError):
        raise SlurmConfigError(
            f"Invalid needs_gpu={raw_gpu!r} in the workflow task's meta: expected "
            'a bool or "true"/"false".'
        ) from None
    merged["needs_gpu"] = needs_gpu
    gpu = resource.gpu_slurm_config
    if needs_gpu and gpu is not None:
        merged.update(
            gpu.model_dump(
                exclude_unset=True, exclude={"mem", "use_mem_per_cpu", "mem_option"}
            )
        )
        if gpu.mem is not None:
            merged["mem_per_task_MB"] = gpu.mem
        mem_option = gpu.chosen_mem_option() or mem_option
    if mem_option is not None:
        merged["mem_option"] = mem_option

    if meta.get("cpus_per_task") is not None:
        merged["cpus_per_task"] = _positive_int("cpus_per_task", meta["cpus_per_task"])
    if meta.get("mem") is not None:
        merged["mem_per_task_MB"] = slurm_mem_to_mb(meta["mem"])
    if task_name is not None:
        merged["job_name"] = task_name.replace(" ", "_")
    if meta.get("account") is not None:
        raise SlurmConfigError(
            f"Invalid account={meta['account']!r} in the workflow task's meta: the "
            "SLURM account is set when the job is submitted (slurm_account), not "
            "per task."
        )
    for key in _OVERRIDABLE_KEYS:
        value = meta.get(key)
        if value is not None:
            # an int (`time` in minutes, `gpus` count) is written as SLURM reads it
            is_int = isinstance(value, int) and not isinstance(value, bool)
            merged[key] = str(value) if is_int else value
    if meta.get("nodes") is not None:
        merged["nodes"] = _positive_int("nodes", meta["nodes"])
    lines = list(merged.get("extra_lines", [])) + _meta_lines(meta.get("extra_lines"))
    if len(set(lines)) != len(lines):
        logger.debug("Dropping repeated SLURM extra lines in %r", lines)
    for key in ("tasks_per_job", "parallel_tasks_per_job"):
        value = meta.get(key)
        merged[key] = None if value is None else _positive_int(key, value)

    if slurm_account is not None:
        merged["account"] = slurm_account
    prefix = merged.get("prefix", "#SBATCH")
    commands: list[str] = []
    for line in (worker_init or "").split("\n"):
        if not line.strip():
            continue
        if line.startswith(f"{prefix} --account=") or line.startswith(f"{prefix} -A"):
            raise SlurmConfigError(
                f"Invalid worker_init line {line!r}: the SLURM account is set "
                "with slurm_account, not in worker_init."
            )
        if line.startswith(prefix):
            lines.append(line)
        else:
            commands.append(line)
    merged["extra_lines"] = _dedup(lines)
    merged["pre_submission_commands"] = [
        line for line in _dedup(commands) if line not in merged["extra_lines"]
    ]
    try:
        return SlurmConfig.model_validate(merged)
    except ValidationError as exc:
        raise SlurmConfigError(f"Invalid SLURM configuration: {_errors(exc)}") from None


def slurm_config_for(
    resource: SlurmResourceConfig,
    meta: Mapping[str, Any] | None,
    *,
    which: Literal["non_parallel", "parallel"],
    tot_tasks: int = 1,
    slurm_account: str | None = None,
    worker_init: str | None = None,
    task_name: str | None = None,
) -> SlurmConfig:
    """The `SlurmConfig` for `tot_tasks` units of a task with this meta.

    `meta` is the workflow task's `meta_non_parallel` (`which="non_parallel"`)
    or `meta_parallel` (`which="parallel"`); `task_name` gives the job name.
    Merge order and differences from the reference: see the module docstring.
    Raises `SlurmConfigError` (`SlurmHeuristicsError` for batching limits)
    naming the key and value at fault.
    """
    if which not in ("non_parallel", "parallel"):
        raise SlurmConfigError(
            f"Invalid which={which!r}: expected 'non_parallel' or 'parallel'."
        )
    config = merge_slurm_config(
        resource,
        meta,
        task_name=task_name,
        slurm_account=slurm_account,
        worker_init=worker_init,
    )
    tasks_per_job, parallel = heuristics(
        tot_tasks=tot_tasks,
        tasks_per_job=config.tasks_per_job,
        parallel_tasks_per_job=config.parallel_tasks_per_job,
        cpus_per_task=config.cpus_per_task,
        mem_per_task=config.mem_per_task_MB,
        target_cpus_per_job=config.target_cpus_per_job,
        max_cpus_per_job=config.max_cpus_per_job,
        target_mem_per_job=config.target_mem_per_job,
        max_mem_per_job=config.max_mem_per_job,
        target_num_jobs=config.target_num_jobs,
        max_num_jobs=config.max_num_jobs,
        needs_gpu=config.needs_gpu,
    )
    return config.model_copy(
        update={"tasks_per_job": tasks_per_job, "parallel_tasks_per_job": parallel}
    )
