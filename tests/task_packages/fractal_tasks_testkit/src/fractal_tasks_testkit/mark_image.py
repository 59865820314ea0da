"""parallel: process one image in place (output `null`) or into a copy."""

from __future__ import annotations

import os
import time
from typing import Any

from fractal_tasks_testkit._io import run_task
from fractal_tasks_testkit._io import warn


def mark_image(
    *,
    zarr_url: str,
    copy_suffix: str | None = None,
    fail_on: list[str] | None = None,
    warn_on: list[str] | None = None,
    sleep_time: float = 0.0,
) -> dict[str, Any] | None:
    """Return `null` (touched in place) or a new image `<zarr_url><copy_suffix>`.

    Fails with a `ValueError` when `zarr_url` ends with any of `fail_on`, and logs
    a warning when it ends with any of `warn_on`.
    """
    if sleep_time:
        time.sleep(sleep_time)
    if any(zarr_url.endswith(s) for s in fail_on or []):
        raise ValueError(f"mark_image failed on purpose for {zarr_url}")
    if any(zarr_url.endswith(s) for s in warn_on or []):
        warn(f"something odd about {zarr_url}")
    if copy_suffix is None:
        return None
    new_url = f"{zarr_url}{copy_suffix}"
    os.makedirs(new_url, exist_ok=True)
    return {"image_list_updates": [{"zarr_url": new_url, "origin": zarr_url}]}


if __name__ == "__main__":
    run_task(mark_image)
