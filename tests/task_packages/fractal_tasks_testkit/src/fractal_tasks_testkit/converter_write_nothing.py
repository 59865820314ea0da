"""converter_non_parallel: print to stdout and stderr, write no output file."""

from __future__ import annotations

import sys

from fractal_tasks_testkit._io import NO_OUTPUT_FILE
from fractal_tasks_testkit._io import run_task


def converter_write_nothing(*, zarr_dir: str, message: str = "hello") -> object:
    """Log one line on each stream and leave `--out-json` unwritten."""
    print(f"stdout: {message} ({zarr_dir})")
    print(f"stderr: {message}", file=sys.stderr)
    return NO_OUTPUT_FILE


if __name__ == "__main__":
    run_task(converter_write_nothing)
