"""`groups BASE_DIR`: the task groups collected under a base folder."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from ..collection import CollectionSettings
from ..collection import find_task_groups
from ._common import EXIT_OK
from ._common import UsageError
from ._common import absolute_path
from ._common import say

__all__ = ["add_parser", "settings_for", "summary"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "groups",
        help="list the task groups collected under a base folder",
        description="List the task groups recorded under BASE_DIR (as `collect` "
        "leaves them), one per line: package, version, origin, state, tasks.",
    )
    p.add_argument("base_dir", metavar="BASE_DIR", help="the collection base folder")
    p.add_argument("--json", action="store_true", help="print a JSON list instead")
    p.add_argument(
        "--tasks", action="store_true", help="also list each group's task names"
    )
    p.set_defaults(handler=run)


def settings_for(base_dir: str, **kwargs: Any) -> CollectionSettings:
    """Collection settings for `base_dir` with this process's Python."""
    base = absolute_path(base_dir, "BASE_DIR")
    return CollectionSettings.for_current_python(str(base), **kwargs)


def summary(group: Any) -> dict[str, Any]:
    return {
        "pkg_name": group.pkg_name,
        "version": group.version,
        "origin": str(group.origin.value),
        "active": group.active,
        "path": group.path,
        "tasks": [task.name for task in group.task_list],
    }


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args.base_dir)
    if not os.path.isdir(settings.base_dir):
        raise UsageError(f"BASE_DIR {settings.base_dir!r} is not a folder.")
    groups = find_task_groups(settings)
    if args.json:
        say(json.dumps([summary(g) for g in groups], indent=2))
        return EXIT_OK
    if not groups:
        say(f"No task group under {settings.base_dir}.")
    for group in groups:
        info = summary(group)
        state = "active" if info["active"] else "inactive"
        say(
            f"{info['pkg_name']} {info['version']} ({info['origin']}, {state}, "
            f"{len(info['tasks'])} tasks) {info['path']}"
        )
        if args.tasks:
            for name in info["tasks"]:
                say(f"    {name}")
    return EXIT_OK
