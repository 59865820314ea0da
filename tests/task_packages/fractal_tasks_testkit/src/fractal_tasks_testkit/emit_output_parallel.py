"""parallel: write a per-image output chosen by the test."""

from __future__ import annotations

from typing import Any

from fractal_tasks_testkit._io import NO_OUTPUT_FILE
from fractal_tasks_testkit._io import RawText
from fractal_tasks_testkit._io import run_task


def emit_output_parallel(
    *,
    zarr_url: str,
    outputs: dict[str, Any] | None = None,
    default_output: Any = None,
    raw_text_for: list[str] | None = None,
    fail_for: list[str] | None = None,
    no_file_for: list[str] | None = None,
) -> Any:
    """Output `outputs[zarr_url]` (else `default_output`); fail/raw/no-file per url."""
    if zarr_url in (fail_for or []):
        raise ValueError(f"emit_output_parallel failed on purpose for {zarr_url}")
    if zarr_url in (no_file_for or []):
        return NO_OUTPUT_FILE
    if zarr_url in (raw_text_for or []):
        return RawText("{this is not json")
    return (outputs or {}).get(zarr_url, default_output)


if __name__ == "__main__":
    run_task(emit_output_parallel)
