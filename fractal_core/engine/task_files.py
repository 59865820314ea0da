"""Job folder layout and per-unit file names, as newer Fractal servers write them.

    <jobs_dir>/<YYYY-MM>/proj_v2_<p:07d>_wf_<w:07d>_job_<j:07d>_<YYYYmmdd_HHMMSS>/
      workflow.log
      <order>_<sanitized task name>/
        non_par--args.json | -metadiff.json | -log.txt      (non-parallel, init)
        par-<batch:06d>-<index:07d>-args.json | ...          (parallel, compute)

Batch size 0 (no `parallel_tasks_per_job`) means one batch for every unit,
so all units share `par-000000` (2.17.2+, upstream #2949).
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import overload

from ..types.strings import sanitize_string

__all__ = [
    "MULTISUBMIT_PREFIX",
    "SHUTDOWN_FILENAME",
    "SUBMIT_PREFIX",
    "WORKFLOW_LOG_FILENAME",
    "TaskFiles",
    "UnitFiles",
    "job_folder_name",
    "job_folder_path",
    "multisubmit_task_files",
    "task_subfolder_name",
]

SUBMIT_PREFIX = "non_par"
MULTISUBMIT_PREFIX = "par"
WORKFLOW_LOG_FILENAME = "workflow.log"
SHUTDOWN_FILENAME = "shutdown"


def task_subfolder_name(order: int | None, task_name: str) -> str:
    """`<order>_<sanitized name>`, e.g. (1, "MIP_compound") -> "1_mip_compound"."""
    return f"{order or 0}_{sanitize_string(task_name)}"


def job_folder_name(
    *, project_id: int, workflow_id: int, job_id: int, start: datetime
) -> str:
    """The reference's job folder name (without the month level)."""
    return (
        f"proj_v2_{project_id:07d}_wf_{workflow_id:07d}_job_{job_id:07d}"
        f"_{start.strftime('%Y%m%d_%H%M%S')}"
    )


def job_folder_path(
    jobs_dir: Path,
    *,
    project_id: int,
    workflow_id: int,
    job_id: int,
    start: datetime,
) -> Path:
    """`<jobs_dir>/<YYYY-MM>/<job folder name>` (2.22.6+ month nesting)."""
    name = job_folder_name(
        project_id=project_id, workflow_id=workflow_id, job_id=job_id, start=start
    )
    return Path(jobs_dir) / start.strftime("%Y-%m") / name


@dataclass(frozen=True)
class TaskFiles:
    """Files of one unit: args, output ("metadiff") and log, local and remote."""

    root_dir_local: Path
    root_dir_remote: Path
    task_name: str
    task_order: int | None
    component: str = ""
    prefix: str | None = SUBMIT_PREFIX

    @cached_property
    def subfolder_name(self) -> str:
        return task_subfolder_name(self.task_order, self.task_name)

    @cached_property
    def wftask_subfolder_local(self) -> Path:
        return Path(self.root_dir_local) / self.subfolder_name

    @cached_property
    def wftask_subfolder_remote(self) -> Path:
        return Path(self.root_dir_remote) / self.subfolder_name

    @property
    def prefix_component(self) -> str:
        if self.prefix is None:
            return self.component
        return f"{self.prefix}-{self.component}"

    def _local(self, suffix: str) -> Path:
        return self.wftask_subfolder_local / f"{self.prefix_component}-{suffix}"

    def _remote(self, suffix: str) -> Path:
        return self.wftask_subfolder_remote / f"{self.prefix_component}-{suffix}"

    @property
    def args_file_local(self) -> Path:
        return self._local("args.json")

    @property
    def metadiff_file_local(self) -> Path:
        return self._local("metadiff.json")

    @property
    def log_file_local(self) -> Path:
        return self._local("log.txt")

    @property
    def args_file_remote(self) -> Path:
        return self._remote("args.json")

    @property
    def metadiff_file_remote(self) -> Path:
        return self._remote("metadiff.json")

    @property
    def log_file_remote(self) -> Path:
        return self._remote("log.txt")


def multisubmit_task_files(
    base: TaskFiles, *, tot_tasks: int, batch_size: int | None
) -> Sequence[TaskFiles]:
    """Files of `tot_tasks` units: `par-<i // batch:06d>-<i:07d>`.

    `batch_size` None or 0 puts every unit in batch 0. Each unit's files are
    built when read (100,000 units keep no per-unit object here).
    """
    return UnitFiles(base, tot_tasks, batch_size or tot_tasks or 1)


class UnitFiles(Sequence[TaskFiles]):
    """The `TaskFiles` of a parallel step's units, built on access."""

    def __init__(self, base: TaskFiles, tot_tasks: int, batch: int) -> None:
        self._base = base
        self._len = tot_tasks
        self._batch = batch
        # The task subfolder is the same for every unit: computed once, not
        # per unit (sanitising the task name 100,000 times is not free).
        self._shared = {
            "subfolder_name": base.subfolder_name,
            "wftask_subfolder_local": base.wftask_subfolder_local,
            "wftask_subfolder_remote": base.wftask_subfolder_remote,
        }

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, i: int) -> TaskFiles: ...
    @overload
    def __getitem__(self, i: slice) -> list[TaskFiles]: ...
    def __getitem__(self, i: int | slice) -> TaskFiles | list[TaskFiles]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._len))]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        unit = replace(
            self._base,
            prefix=f"{MULTISUBMIT_PREFIX}-{i // self._batch:06d}",
            component=f"{i:07d}",
        )
        unit.__dict__.update(self._shared)  # fills the cached properties
        return unit

    def __iter__(self) -> Iterator[TaskFiles]:
        return map(self.__getitem__, range(self._len))
