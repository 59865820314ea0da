"""Factories for task groups used by the io tests (real domain objects).

A plain module (not a conftest) so that test modules can import it by name.
"""

from __future__ import annotations

from typing import Any

from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup


def build_group(
    gid: int,
    version: str,
    *,
    pkg_name: str = "package_name",
    tasks: tuple[str, ...] = ("task_name",),
    user_id: int = 1,
    user_group_id: int | None = None,
    active: bool = True,
    is_core: bool = False,
    task_kwargs: dict[str, Any] | None = None,
) -> TaskGroup:
    """A task group of parallel tasks; task ids are ``gid * 100 + position``."""
    task_list = [
        Task(
            id=gid * 100 + i,
            name=name,
            type="parallel",
            command_parallel=f"/bin/echo task{i}",
            version=version,
            is_core=is_core,
            taskgroupv2_id=gid,
            **(task_kwargs or {}),
        )
        for i, name in enumerate(tasks)
    ]
    return TaskGroup(
        id=gid,
        origin="other",
        pkg_name=pkg_name,
        version=version,
        user_id=user_id,
        user_group_id=user_group_id,
        active=active,
        task_list=task_list,
    )
