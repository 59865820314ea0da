"""Command-line glue shared by every task: `--args-json` in, `--out-json` out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

# Returned by a task function to mean "write no output file at all".
NO_OUTPUT_FILE = object()


class RawText(str):
    """Returned by a task function to write this text verbatim (e.g. bad JSON)."""


def run_task(func: Callable[..., Any]) -> None:
    """Parse the two flags, call `func(**args)`, write its result as JSON."""
    parser = argparse.ArgumentParser(description=func.__doc__)
    parser.add_argument("--args-json", required=True)
    parser.add_argument("--out-json", required=True)
    ns = parser.parse_args()
    with open(ns.args_json) as f:
        kwargs = json.load(f)
    print(f"[{func.__name__}] START with keys {sorted(kwargs)}", flush=True)
    result = func(**kwargs)
    if result is NO_OUTPUT_FILE:
        print(f"[{func.__name__}] END (no output file)", flush=True)
        return
    with open(ns.out_json, "w") as f:
        if isinstance(result, RawText):
            f.write(result)
        else:
            json.dump(result, f)
    print(f"[{func.__name__}] END", flush=True)


def warn(message: str) -> None:
    """Write a warning line to stderr (the engine flags units whose log has one)."""
    print(f"WARNING: {message}", file=sys.stderr, flush=True)
