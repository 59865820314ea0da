"""converter_non_parallel: create `num_images` image folders under zarr_dir."""

from __future__ import annotations

import os
from typing import Any

from fractal_tasks_testkit._io import run_task


def create_images(
    *,
    zarr_dir: str,
    plate: str = "plate.zarr",
    num_images: int = 2,
    attributes: dict[str, Any] | None = None,
    types: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """Write `<zarr_dir>/<plate>/A/<NN>/0` folders and return them as new images."""
    updates = []
    for ind in range(num_images):
        well = f"{ind + 1:02d}"
        zarr_url = f"{zarr_dir.rstrip('/')}/{plate}/A/{well}/0"
        os.makedirs(zarr_url, exist_ok=True)
        with open(os.path.join(zarr_url, "data.txt"), "w") as f:
            f.write(f"raw image {ind}\n")
        updates.append(
            {
                "zarr_url": zarr_url,
                "attributes": {
                    "well": f"A{well}",
                    "plate": plate,
                    **(attributes or {}),
                },
                "types": {"3D": True, **(types or {})},
            }
        )
    return {"image_list_updates": updates}


if __name__ == "__main__":
    run_task(create_images)
