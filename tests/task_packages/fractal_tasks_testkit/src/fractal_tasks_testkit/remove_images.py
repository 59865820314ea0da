"""non_parallel: remove the input images (and optionally more urls)."""

from __future__ import annotations

from typing import Any

from fractal_tasks_testkit._io import run_task


def remove_images(
    *, zarr_urls: list[str], zarr_dir: str, more_zarr_urls: list[str] | None = None
) -> dict[str, Any]:
    """Return `image_list_removals = zarr_urls + more_zarr_urls`."""
    return {"image_list_removals": list(zarr_urls) + list(more_zarr_urls or [])}


if __name__ == "__main__":
    run_task(remove_images)
