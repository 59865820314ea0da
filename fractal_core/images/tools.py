"""Pure helpers on lists of plain image dicts (same names and results as upstream).

None of them validates its inputs or mutates its arguments. Attribute matching
uses Python equality, so `1`, `1.0` and `True` match each other (kept from the
reference for compatibility; filters are type-homogeneous, images need not be).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

from .errors import IncompatibleTypeFiltersError

__all__ = [
    "IMAGE_STATUS_KEY",
    "ImageSearch",
    "aggregate_attributes",
    "aggregate_types",
    "filter_image_list",
    "find_image_by_zarr_url",
    "match_filter",
    "merge_type_filters",
]

logger = logging.getLogger(__name__)

IMAGE_STATUS_KEY = "__wftask_dataset_image_status__"
"""Reserved attribute carrying an image's history status in history views."""

ImageSearch = dict[Literal["image", "index"], int | dict[str, Any]]


def find_image_by_zarr_url(
    *,
    images: Sequence[Mapping[str, Any]],
    zarr_url: str,
) -> ImageSearch | None:
    """Return `{"image": shallow copy, "index": i}` for the first exact match.

    Linear scan, kept for compatibility; `ImageList` offers O(1) look-ups.
    Returns None when no image has this zarr_url.
    """
    for index, image in enumerate(images):
        if image["zarr_url"] == zarr_url:
            return {"image": dict(image), "index": index}
    return None


def match_filter(
    *,
    image: Mapping[str, Any],
    type_filters: Mapping[str, bool],
    attribute_filters: Mapping[str, Sequence[Any]],
) -> bool:
    """True if the image satisfies every type filter and every attribute filter.

    A missing type counts as False; an attribute filter lists accepted values
    (OR inside a key, AND across keys); a missing attribute never matches.
    """
    if type_filters:
        types = image["types"]
        for key, wanted in type_filters.items():
            if types.get(key, False) != wanted:
                return False
    if attribute_filters:
        attributes = image["attributes"]
        for key, accepted in attribute_filters.items():
            if attributes.get(key) not in accepted:
                return False
    return True


def filter_image_list(
    images: Iterable[Mapping[str, Any]],
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Return a new list with shallow copies of the matching images, in order.

    Unlike the reference (which returned the input list itself when both filters
    are None), the result is always a new list.
    """
    actual_types = type_filters or {}
    actual_attributes = attribute_filters or {}
    return [
        dict(image)
        for image in images
        if match_filter(
            image=image,
            type_filters=actual_types,
            attribute_filters=actual_attributes,
        )
    ]


def merge_type_filters(
    *,
    task_input_types: Mapping[str, bool],
    wftask_type_filters: Mapping[str, bool],
) -> dict[str, bool]:
    """Return a new dict uniting both filter sets; neither argument is mutated.

    Raises IncompatibleTypeFiltersError (a ValueError, with the reference's
    message) if a key has different values in the two sets; its `conflicts`
    attribute lists those keys.
    """
    conflicts = [
        key
        for key, value in wftask_type_filters.items()
        if key in task_input_types and task_input_types[key] != value
    ]
    if conflicts:
        # The reference's message, verbatim; the keys are on `error.conflicts`.
        error = IncompatibleTypeFiltersError(
            "Cannot merge type filters "
            f"`{dict(task_input_types)}` (from task) "
            f"and `{dict(wftask_type_filters)}` (from workflowtask)."
        )
        error.conflicts = conflicts
        raise error
    merged = dict(task_input_types)
    merged.update(wftask_type_filters)
    return merged


def _sorted_or_unsorted(key: str, values: list[Any]) -> list[Any]:
    """Sort distinct values; on mixed types keep first-appearance order (2.20+)."""
    try:
        return sorted(values)
    except TypeError:
        logger.warning(
            "Values of attribute '%s' have mixed types and cannot be sorted: %s",
            key,
            values,
        )
        return values


def aggregate_attributes(
    images: Iterable[Mapping[str, Any]],
) -> dict[str, list[Any]]:
    """Map each attribute key (first-appearance order) to its distinct values.

    Values are sorted; when a key mixes incomparable types (e.g. `1` and `"a"`)
    they are returned de-duplicated in first-appearance order and a warning is
    logged, instead of failing. `1`, `1.0`, `True` collapse (first one kept).
    """
    distinct: dict[str, dict[Any, None]] = {}
    for image in images:
        for key, value in image["attributes"].items():
            distinct.setdefault(key, {})[value] = None
    return {key: _sorted_or_unsorted(key, list(vals)) for key, vals in distinct.items()}


def aggregate_types(images: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the sorted names of every type key present in any image."""
    return sorted({key for image in images for key in image["types"]})
