"""Image attribute values, image types and the two kinds of image filters."""

from __future__ import annotations

from typing import Annotated
from typing import Any
from typing import Union

from pydantic import AfterValidator

from .dicts import valdict_keys

__all__ = [
    "AttributeFilters",
    "ImageAttributeValue",
    "ImageAttributes",
    "ImageAttributesWithNone",
    "ImageTypes",
    "TypeFilters",
    "validate_attribute_filters",
]

ImageAttributeValue = Union[int, float, str, bool]  # noqa: UP007 (smart union)
"""A scalar attribute value; the input's exact type is kept (`"1"` stays a str)."""


def validate_attribute_filters(
    attribute_filters: dict[str, list[Any]],
) -> dict[str, list[Any]]:
    """Check filter keys, and that each value list is non-empty and homogeneous."""
    attribute_filters = valdict_keys(attribute_filters)
    for key, values in attribute_filters.items():
        if not values:
            raise ValueError(f"attribute_filters[{key}] cannot be an empty list.")
        first_type = type(values[0])
        if any(type(value) is not first_type for value in values):
            raise ValueError(
                f"attribute_filters[{key}] has values with "
                f"non-homogeneous types: {values}."
            )
    return attribute_filters


ImageAttributes = Annotated[
    dict[str, ImageAttributeValue], AfterValidator(valdict_keys)
]
"""Stored image attributes: scalar values, `None` refused."""

ImageAttributesWithNone = Annotated[
    dict[str, ImageAttributeValue | None], AfterValidator(valdict_keys)
]
"""Task-output image attributes: scalars, or `None` meaning "remove"."""

AttributeFilters = Annotated[
    dict[str, list[ImageAttributeValue]],
    AfterValidator(validate_attribute_filters),
]
"""Attribute filters: key -> non-empty, type-homogeneous list of accepted values."""

TypeFilters = Annotated[dict[str, bool], AfterValidator(valdict_keys)]
"""Type filters: key -> required boolean (a missing type counts as False)."""

ImageTypes = Annotated[dict[str, bool], AfterValidator(valdict_keys)]
"""Image types: key -> boolean."""
