"""non_parallel / converter_non_parallel: write whatever output the test asks for."""

from __future__ import annotations

import os
import sys
from typing import Any

from fractal_tasks_testkit._io import NO_OUTPUT_FILE
from fractal_tasks_testkit._io import RawText
from fractal_tasks_testkit._io import run_task
from fractal_tasks_testkit._io import warn


def emit_output(
    *,
    zarr_dir: str,
    zarr_urls: list[str] | None = None,
    output: Any = None,
    raw_text: str | None = None,
    write_file: bool = True,
    exit_code: int = 0,
    stderr_text: str = "",
    warning: str | None = None,
    echo_env: list[str] | None = None,
) -> Any:
    """Write `output` as JSON (or `raw_text` verbatim, or nothing), then exit.

    `exit_code` != 0 makes the task fail after writing `stderr_text`.
    """
    for name in echo_env or []:
        print(f"ENV {name}={os.environ.get(name)}", flush=True)
    if warning:
        warn(warning)
    if stderr_text:
        sys.stderr.write(stderr_text)
        sys.stderr.flush()
    if exit_code:
        sys.exit(exit_code)
    if not write_file:
        return NO_OUTPUT_FILE
    if raw_text is not None:
        return RawText(raw_text)
    return output


if __name__ == "__main__":
    run_task(emit_output)
