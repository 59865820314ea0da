"""converter_compound compute: create one image folder, return it (no origin)."""

from __future__ import annotations

import os
from typing import Any

from fractal_tasks_testkit._io import run_task


def create_images_compute(
    *, zarr_url: str, init_args: dict[str, Any], fail_indices: list[int] | None = None
) -> dict[str, Any]:
    """Write the image folder; fail if this unit's index is in `fail_indices`."""
    index = init_args["index"]
    if index in (fail_indices or []):
        raise RuntimeError(f"create_images_compute failed on purpose for {index=}")
    os.makedirs(zarr_url, exist_ok=True)
    well = f"A{index + 1:02d}"
    return {
        "image_list_updates": [
            {
                "zarr_url": zarr_url,
                "attributes": {"well": well, "plate": init_args["plate"]},
                "types": {"3D": True},
            }
        ]
    }


if __name__ == "__main__":
    run_task(create_images_compute)
