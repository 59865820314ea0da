"""converter_compound init: plan one compute unit per image to create."""

from __future__ import annotations

import os
from typing import Any

from fractal_tasks_testkit._io import run_task


def create_images_init(
    *, zarr_dir: str, plate: str = "plate.zarr", num_images: int = 2
) -> dict[str, Any]:
    """Create the plate folder and return the parallelization list."""
    plate_dir = f"{zarr_dir.rstrip('/')}/{plate}"
    os.makedirs(plate_dir, exist_ok=True)
    items = [
        {
            "zarr_url": f"{plate_dir}/A/{ind + 1:02d}/0",
            "init_args": {"index": ind, "plate": plate},
        }
        for ind in range(num_images)
    ]
    return {"parallelization_list": items}


if __name__ == "__main__":
    run_task(create_images_init)
