"""compound init: map every input image to a projected image in a new plate."""

from __future__ import annotations

import os
from typing import Any

from fractal_tasks_testkit._io import run_task


def projected_url(zarr_url: str, suffix: str) -> tuple[str, str]:
    """Return (new zarr_url, new plate name) with `<plate>_<suffix>.zarr`."""
    parts = zarr_url.split("/")
    for ind, part in enumerate(parts):
        if part.endswith(".zarr"):
            new_plate = f"{part[: -len('.zarr')]}_{suffix}.zarr"
            parts[ind] = new_plate
            return "/".join(parts), new_plate
    raise ValueError(f"No '.zarr' component in {zarr_url}")


def project_init(
    *, zarr_urls: list[str], zarr_dir: str, suffix: str = "mip"
) -> dict[str, Any]:
    """Return one item per input, with the output url in `init_args`."""
    items = []
    for zarr_url in zarr_urls:
        new_url, new_plate = projected_url(zarr_url, suffix)
        os.makedirs(new_url.rsplit("/", 3)[0], exist_ok=True)
        items.append(
            {
                "zarr_url": zarr_url,
                "init_args": {"new_zarr_url": new_url, "new_plate": new_plate},
            }
        )
    return {"parallelization_list": items}


if __name__ == "__main__":
    run_task(project_init)
