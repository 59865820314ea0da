"""`collect PACKAGE --base-dir DIR`: a PyPI package or a wheel file, into a venv."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..collection import collect_pypi
from ..collection import collect_wheel
from ._common import EXIT_FAILED
from ._common import EXIT_OK
from ._common import absolute_path
from ._common import say
from .groups_cmd import settings_for

__all__ = ["add_parser"]

LOG_TAIL_LINES = 30


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "collect",
        help="collect a task package (PyPI name or wheel file) into a base folder",
        description="Install a task package into a virtual environment of its "
        "own under BASE_DIR and record it, so that `run` and `groups` find it. "
        "PACKAGE is a PyPI name or the path of a .whl file. Collecting a "
        "package already there reuses it.",
    )
    p.add_argument("package", metavar="PACKAGE", help="PyPI name or path to a .whl")
    p.add_argument("--base-dir", required=True, help="the collection base folder")
    p.add_argument(
        "--version", dest="pkg_version", help="PyPI version (default: latest)"
    )
    p.add_argument("--extras", help="pip extras, e.g. 'fractal-tasks'")
    p.add_argument("--index-url", help="another package index for pip")
    p.add_argument(
        "--no-upgrade-pip",
        action="store_true",
        help="do not upgrade pip in the new venv (offline use)",
    )
    p.set_defaults(handler=run)


def _is_wheel(package: str) -> bool:
    return package.endswith(".whl")


def run(args: argparse.Namespace) -> int:
    settings = settings_for(
        args.base_dir, upgrade_pip=not args.no_upgrade_pip, index_url=args.index_url
    )
    os.makedirs(settings.base_dir, exist_ok=True)
    if _is_wheel(args.package):
        if args.pkg_version:
            say("note: --version is ignored for a wheel file", sys.stderr)
        wheel = absolute_path(args.package, "PACKAGE")
        result = collect_wheel(wheel, settings=settings, extras=args.extras)
    else:
        result = collect_pypi(
            args.package,
            settings=settings,
            version=args.pkg_version,
            extras=args.extras,
        )
    if not result.ok or result.task_group is None:
        log = (result.activity.log or "").strip().splitlines()
        for line in log[-LOG_TAIL_LINES:]:
            say(line, sys.stderr)
        say(f"collection of {args.package} failed", sys.stderr)
        return EXIT_FAILED
    group = result.task_group
    say(
        f"collected {group.pkg_name} {group.version}: {len(group.task_list)} tasks "
        f"in {group.path}"
    )
    for task in group.task_list:
        say(f"    {task.name}")
    return EXIT_OK
