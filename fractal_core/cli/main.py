"""The argument parser and the dispatcher that turns errors into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from .._version import __version__
from ..errors import FractalCoreError
from . import collect_cmd
from . import groups_cmd
from . import run_cmd
from . import status_cmd
from ._common import EXIT_INTERRUPTED
from ._common import EXIT_USAGE
from ._common import UsageError

__all__ = ["build_parser", "main"]

PROG = "python -m fractal_core"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Collect Fractal task packages, run workflow files on OME-Zarr "
            "images, and read the state of jobs, without a server."
        ),
        epilog="Exit codes: 0 ok, 1 failed, 2 usage error, 3 job still running.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (collect_cmd, run_cmd, status_cmd, groups_cmd):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (argparse exits 2 by itself)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        return _error(args.command, str(exc))
    except (FractalCoreError, ValidationError) as exc:
        return _error(args.command, f"{type(exc).__name__}: {exc}")
    except OSError as exc:
        return _error(args.command, f"{exc.strerror or exc}: {exc.filename or ''}")
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def _one_line(message: str) -> str:
    """A multi-line message (pydantic's, a task list's) as one line, without
    pydantic's documentation links: scripts read the first stderr line."""
    lines = (line.strip() for line in message.splitlines())
    return "; ".join(
        line for line in lines if line and not line.startswith(_PYDANTIC_LINK)
    )


_PYDANTIC_LINK = "For further information visit"
