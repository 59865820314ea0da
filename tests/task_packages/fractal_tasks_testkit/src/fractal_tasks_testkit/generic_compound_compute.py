"""compound compute: optionally fail on some units, optionally return an output."""

from __future__ import annotations

from typing import Any

from fractal_tasks_testkit._io import run_task


def generic_compound_compute(
    *,
    zarr_url: str,
    init_args: dict[str, Any],
    fail_indices: list[int] | None = None,
    outputs: dict[str, Any] | None = None,
) -> Any:
    """Fail when `init_args.ind` is in `fail_indices`; else output by index or null."""
    ind = init_args["ind"]
    if ind in (fail_indices or []):
        raise RuntimeError(f"raise_error for ind={ind}")
    return (outputs or {}).get(str(ind))


if __name__ == "__main__":
    run_task(generic_compound_compute)
