"""Collect a task package once and reuse it between tests, sessions and processes.

Installing fractal-tasks-core from PyPI takes 1.1 GB and up to a few minutes, so
the suite does it once, with our own `collect_pypi`, into a cache base folder
(`$FRACTAL_CORE_TEST_CACHE`, default `~/.cache/fractal_core_tests`). The first
caller collects; every later caller (this process, a parallel one, the next
run) reuses the result.

Venvs cannot be moved (their commands hold absolute paths), so the collection
happens in its final folder under a cache lock, and the cache entry only counts
as present once `collection.json` (the TaskGroup and its collect activity) has
been written next to the venv by an atomic rename. A folder without a valid
record (an interrupted run) is removed and collected again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from fractal_core.collection import CollectionSettings
from fractal_core.collection import OperationResult
from fractal_core.collection import collect_pypi
from fractal_core.collection.pip_collect import group_folder
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivity

logger = logging.getLogger(__name__)

FRACTAL_TASKS_CORE = "fractal-tasks-core"
FRACTAL_TASKS_CORE_VERSION = "2.1.0"
CACHE_ENV_VAR = "FRACTAL_CORE_TEST_CACHE"
RECORD_FILENAME = "collection.json"
INSTALL_TIMEOUT = 1800.0  # seconds, for each pip step and for waiting on the lock

Collect = Callable[[CollectionSettings], OperationResult]


class CachedCollectionError(RuntimeError):
    """The collection behind a cache entry failed; the message has the log tail."""


@dataclass(frozen=True)
class CachedCollection:
    """A collected task group, its collect activity, and who collected it."""

    task_group: TaskGroup
    activity: TaskGroupActivity
    collected_now: bool  # True if this call ran the collection (not a reuse)

    @property
    def path(self) -> Path:
        return Path(str(self.task_group.path))

    @property
    def python(self) -> Path:
        return Path(str(self.task_group.venv_path)) / "bin" / "python"


def suite_cache_dir() -> Path:
    """`$FRACTAL_CORE_TEST_CACHE` or `~/.cache/fractal_core_tests` (created)."""
    configured = os.environ.get(CACHE_ENV_VAR)
    folder = (
        Path(configured)
        if configured
        else Path.home() / ".cache" / "fractal_core_tests"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def _record_path(group_path: str) -> Path:
    return Path(group_path) / RECORD_FILENAME


def _command_paths(group: TaskGroup) -> list[Path]:
    """The interpreter and script of every task command of `group`."""
    paths: list[Path] = []
    for task in group.task_list:
        for command in (task.command_non_parallel, task.command_parallel):
            if command:
                paths.extend(Path(part) for part in command.split(" "))
    return paths


def load_record(group_path: str) -> tuple[TaskGroup, TaskGroupActivity] | None:
    """The saved TaskGroup and activity if the entry is complete and usable."""
    record = _record_path(group_path)
    try:
        data = json.loads(record.read_text())
        group = TaskGroup.model_validate(data["task_group"])
        activity = TaskGroupActivity.model_validate(data["activity"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        if record.exists():
            logger.warning("Ignoring unreadable cache record %s: %s", record, e)
        return None
    if group.path != group_path or not group.task_list:
        return None
    missing = [p for p in _command_paths(group) if not p.exists()]
    if missing:
        logger.warning("Cache entry %s lacks %s; collecting again", group_path, missing)
        return None
    python = Path(str(group.venv_path)) / "bin" / "python"
    alive = subprocess.run([str(python), "-c", "pass"], capture_output=True)
    if alive.returncode != 0:  # e.g. its base interpreter is gone
        return None
    return group, activity


def _save_record(group: TaskGroup, activity: TaskGroupActivity) -> None:
    """Write `collection.json` atomically: the entry's completion marker."""
    record = _record_path(str(group.path))
    tmp = record.with_name(f".{record.name}.tmp")
    payload = {
        "task_group": group.model_dump(mode="json"),
        "activity": activity.model_dump(mode="json"),
    }
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, record)


def _remove_inside(folder: Path, base: Path) -> None:
    """Delete `folder`, refusing anything that is not strictly inside `base`."""
    resolved, base = folder.resolve(), base.resolve()
    if resolved == base or base not in resolved.parents:
        raise RuntimeError(f"Refusing to delete {resolved}: not inside {base}")
    shutil.rmtree(resolved)


def cached_collection(
    settings: CollectionSettings, pkg_name: str, version: str, collect: Collect
) -> CachedCollection:
    """The task group `pkg_name==version` under `settings.base_dir`, collected once.

    `collect(settings)` runs only when no valid entry exists; it must collect
    that very package and version without a user folder (`user_id=None`).
    Concurrent callers serialise on a lock next to the package folder.
    """
    base = Path(settings.base_dir)
    base.mkdir(parents=True, exist_ok=True)
    path = group_folder(settings, None, pkg_name, version)
    lock = FileLock(str(base / f"{pkg_name}-{version}.cache.lock"))
    with lock.acquire(timeout=INSTALL_TIMEOUT):
        found = load_record(path)
        if found is not None:
            return CachedCollection(*found, collected_now=False)
        if Path(path).exists():  # left over by an interrupted run
            logger.warning("Removing incomplete cache entry %s", path)
            _remove_inside(Path(path), base)
        result = collect(settings)
        group = result.task_group
        if not result.ok or group is None:
            raise CachedCollectionError(
                f"Collecting {pkg_name}=={version} into {base} failed:\n"
                f"{(result.activity.log or '')[-5000:]}"
            )
        if group.path != path:
            raise CachedCollectionError(
                f"Collection landed in {group.path}, expected {path}."
            )
        _save_record(group, result.activity)
        return CachedCollection(group, result.activity, collected_now=True)


def pip_cache_dir() -> str:
    """pip's download cache: `$PIP_CACHE_DIR` or `~/.cache/pip`."""
    return os.environ.get("PIP_CACHE_DIR") or os.path.expanduser("~/.cache/pip")


def fractal_tasks_core_settings() -> CollectionSettings:
    """Where and how the suite collects fractal-tasks-core (one folder per Python)."""
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return CollectionSettings.for_current_python(
        str(suite_cache_dir() / "collections" / py),
        pip_cache_dir=pip_cache_dir(),
        upgrade_pip=True,
        step_timeout=INSTALL_TIMEOUT,
    )


def cached_fractal_tasks_core() -> CachedCollection:
    """fractal-tasks-core 2.1.0 collected from PyPI once (first time: 1-2.5 min)."""
    return cached_collection(
        fractal_tasks_core_settings(),
        FRACTAL_TASKS_CORE,
        FRACTAL_TASKS_CORE_VERSION,
        # A non-normalised name on purpose: collection normalises it (PEP 503).
        lambda settings: collect_pypi(
            "Fractal_Tasks_Core", version=FRACTAL_TASKS_CORE_VERSION, settings=settings
        ),
    )
