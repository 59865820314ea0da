"""Engine settings and the task slice of a job (checked before anything runs)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidTaskRange

__all__ = [
    "DEFAULT_MAX_PARALLELIZATION_LIST_SIZE",
    "EngineSettings",
    "default_fractal_cache_dir",
    "set_start_and_last_task_index",
    "user_fractal_cache_dir",
]

DEFAULT_MAX_PARALLELIZATION_LIST_SIZE = 20_000


@dataclass(frozen=True)
class EngineSettings:
    """Engine knobs; defaults reproduce the reference."""

    max_parallelization_list_size: int = DEFAULT_MAX_PARALLELIZATION_LIST_SIZE
    fractal_cache_dir: str | os.PathLike[str] | None = None
    fail_on_empty_image_list: bool = True  # 2.17.1+; False = 2.17.0 behaviour
    # Used when a step's meta has no `parallel_tasks_per_job` (resource default);
    # it bounds concurrency and groups unit file names (`par-<batch>-...`).
    parallel_tasks_per_job: int | None = None
    # Spec weak point 7: when the successful units return nothing, the reference
    # "touches" every selected image, also those of failed units (default, for
    # fidelity); True restricts it to the inputs of successful units.
    touch_only_successful_units: bool = False
    # Wall-clock limit of one unit when its meta sets none (`time`); None: no
    # limit. Enforced by executors that can (the local one kills the unit).
    unit_timeout_s: float | None = None
    # Pause the cyclic garbage collector while building large outputs (faster
    # for 100k-image tasks) — it changes process-global state for every thread
    # of the host, so it is off unless the application asks for it.
    pause_gc: bool = False


def default_fractal_cache_dir(project_dirs: Sequence[str | os.PathLike[str]]) -> Path:
    """`<first project dir>/fractal/.fractal_cache` (2.22.12+ default); not created."""
    if not project_dirs:
        raise ValueError("A FRACTAL_CACHE_DIR default needs at least one project dir.")
    return Path(project_dirs[0]) / "fractal" / ".fractal_cache"


def user_fractal_cache_dir() -> Path:
    """Fallback FRACTAL_CACHE_DIR with no project dir: the user's XDG cache folder.

    Newer task packages read FRACTAL_CACHE_DIR and write to the home folder
    when it is missing, so the variable is always exported; this gives it the
    conventional per-user place (`$XDG_CACHE_HOME/fractal`, else
    `~/.cache/fractal`). Not created here: tasks create what they need.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "fractal"


def set_start_and_last_task_index(
    num_tasks: int,
    first_task_index: int | None = None,
    last_task_index: int | None = None,
) -> tuple[int, int]:
    """Resolve and check the inclusive task slice; InvalidTaskRange on bad input."""
    first = 0 if first_task_index is None else first_task_index
    last = num_tasks - 1 if last_task_index is None else last_task_index
    if first < 0:
        raise InvalidTaskRange(f"first_task_index={first} cannot be negative")
    if last < 0:
        raise InvalidTaskRange(f"last_task_index={last} cannot be negative")
    if last > num_tasks - 1:
        raise InvalidTaskRange(
            f"last_task_index={last} cannot be larger than "
            f"(num_tasks-1)={num_tasks - 1}"
        )
    if first > last:
        raise InvalidTaskRange(
            f"first_task_index={first} cannot be larger than last_task_index={last}"
        )
    return first, last
