"""History reads shared by the stores: the images-with-status page in Python.

The in-memory store computes it this way; the SQL store does so only for
filter keys its JSON paths cannot name. The order of steps is the
reference's `get_history_images`: type filters, status attribute, attribute
filters (the status included), sort by zarr_url, unclamped page.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from ..images.status import STATUS_UNSET
from ..images.tools import IMAGE_STATUS_KEY
from ..images.tools import aggregate_attributes
from ..images.tools import aggregate_types
from ..images.tools import match_filter
from .base import ImagePage
from .base import unclamped_page

__all__ = ["status_image_page", "window_of"]


def window_of(
    items: Sequence[Any], page: int, page_size: int | None
) -> tuple[list[Any], int, int]:
    """(items of the page, page, page_size) of an unclamped page over `items`."""
    window = unclamped_page(len(items), page, page_size)
    return (
        list(items[window.offset : window.offset + window.page_size]),
        window.page,
        window.page_size,
    )


def status_image_page(
    images: Iterable[Mapping[str, Any]],
    url_status: Iterable[tuple[str, str]],
    *,
    type_filters: Mapping[str, bool],
    attribute_filters: Mapping[str, Sequence[Any]],
    page: int,
    page_size: int | None,
) -> ImagePage:
    """The page of `images` with status; summaries over all `images`.

    Equivalent to enriching every image and filtering the copies (the
    reference), but only the page's images are copied: the status filter is
    checked against the status table, the others against the image itself
    (its own `IMAGE_STATUS_KEY`, if any, is what enrichment would replace).
    """
    every = list(images)
    status: dict[str, str] = {}
    for zarr_url, value in url_status:
        status.setdefault(zarr_url, value)
    wanted = attribute_filters.get(IMAGE_STATUS_KEY)
    others = {k: v for k, v in attribute_filters.items() if k != IMAGE_STATUS_KEY}
    selected = [
        image
        for image in every
        if match_filter(
            image=image, type_filters=type_filters, attribute_filters=others
        )
        and (wanted is None or status.get(image["zarr_url"], STATUS_UNSET) in wanted)
    ]
    selected.sort(key=lambda image: image["zarr_url"])
    items, shown, size = window_of(selected, page, page_size)
    return ImagePage(
        items=[
            {
                **image,
                "attributes": {
                    **image["attributes"],
                    IMAGE_STATUS_KEY: status.get(image["zarr_url"], STATUS_UNSET),
                },
            }
            for image in items
        ],
        total_count=len(selected),
        page=shown,
        page_size=size,
        attributes=aggregate_attributes(every),
        types=aggregate_types(every),
    )
