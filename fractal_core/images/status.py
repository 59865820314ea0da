"""Pure history-status enrichment of images (no database: weak point 11).

The repository layer fetches the `(zarr_url, status)` pairs of the latest
history units of one (dataset, workflow task) and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from .tools import IMAGE_STATUS_KEY

__all__ = ["STATUS_UNSET", "enrich_images_with_status"]

STATUS_UNSET = "unset"
"""Status of an image that no history unit has processed."""


def _with_status(image: Mapping[str, Any], status: str) -> dict[str, Any]:
    return {**image, "attributes": {**image["attributes"], IMAGE_STATUS_KEY: status}}


def enrich_images_with_status(
    images: Iterable[Mapping[str, Any]],
    url_status: Iterable[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Copies of `images` whose attributes carry IMAGE_STATUS_KEY.

    Order as the reference: processed images in the order of `url_status`,
    then the unprocessed ones with status "unset" (in input order here; the
    reference used set order). Pairs for images not in `images` are ignored.
    """
    by_url = {image["zarr_url"]: image for image in images}
    processed: dict[str, str] = {}
    for zarr_url, status in url_status:
        if zarr_url in by_url and zarr_url not in processed:
            processed[zarr_url] = status
    enriched = [_with_status(by_url[url], status) for url, status in processed.items()]
    enriched.extend(
        _with_status(image, STATUS_UNSET)
        for url, image in by_url.items()
        if url not in processed
    )
    return enriched
