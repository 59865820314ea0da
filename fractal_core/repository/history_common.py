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

from ..images.status import enrich_images_with_status
from ..images.tools import aggregate_attributes
from ..images.tools import aggregate_types
from ..images.tools import filter_image_list
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
    summary_of: Sequence[Mapping[str, Any]] | None = None,
) -> ImagePage:
    """The page of `images` with status; summaries over `summary_of` (default
    `images`: pass the whole dataset when `images` is already narrowed)."""
    every = list(images)
    summary = every if summary_of is None else summary_of
    typed = filter_image_list(every, type_filters=dict(type_filters))
    enriched = enrich_images_with_status(typed, url_status)
    selected = filter_image_list(enriched, attribute_filters=dict(attribute_filters))
    selected.sort(key=lambda image: image["zarr_url"])
    items, shown, size = window_of(selected, page, page_size)
    return ImagePage(
        items=items,
        total_count=len(selected),
        page=shown,
        page_size=size,
        attributes=aggregate_attributes(summary),
        types=aggregate_types(summary),
    )
