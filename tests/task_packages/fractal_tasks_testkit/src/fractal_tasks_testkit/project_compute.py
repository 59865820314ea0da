"""compound compute: write the projected image, return it with its origin."""

from __future__ import annotations

import os
from typing import Any

from fractal_tasks_testkit._io import run_task


def project_compute(*, zarr_url: str, init_args: dict[str, Any]) -> dict[str, Any]:
    """Create the new image folder; it inherits attributes/types from its origin."""
    new_url = init_args["new_zarr_url"]
    os.makedirs(new_url, exist_ok=True)
    with open(os.path.join(new_url, "data.txt"), "w") as f:
        f.write(f"projection of {zarr_url}\n")
    return {
        "image_list_updates": [
            {
                "zarr_url": new_url,
                "origin": zarr_url,
                "attributes": {"plate": init_args["new_plate"]},
            }
        ]
    }


if __name__ == "__main__":
    run_task(project_compute)
