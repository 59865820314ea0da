"""non_parallel: unset one attribute on every input image by returning null."""

from __future__ import annotations

from typing import Any

from fractal_tasks_testkit._io import run_task


def unset_attribute(
    *, zarr_urls: list[str], zarr_dir: str, attribute: str
) -> dict[str, Any]:
    """Return every input with `attributes {attribute: null}`."""
    return {
        "image_list_updates": [
            {"zarr_url": url, "attributes": {attribute: None}} for url in zarr_urls
        ]
    }


if __name__ == "__main__":
    run_task(unset_attribute)
