"""Images given by users made canonical: fast paths that skip pydantic when
validating would change nothing, and pydantic (`SingleImage`) otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from math import isfinite
from typing import Any

from pydantic import BaseModel

from fractal_core.types import normalize_url

from .models import SingleImage

__all__ = [
    "ATTRIBUTE_TYPES",
    "BOOL_TYPE",
    "STORED_ATTRIBUTE_TYPES",
    "Fields",
    "already_valid",
    "image_fields",
]

Fields = tuple[str, "str | None", Mapping[str, Any], Mapping[str, Any]]
"""(zarr_url, origin, attributes, types) of one image."""

ATTRIBUTE_TYPES: frozenset[type] = frozenset({int, float, str, bool, type(None)})
STORED_ATTRIBUTE_TYPES = frozenset({int, float, str, bool})
BOOL_TYPE = frozenset({bool})


def already_valid(values: Mapping[str, Any], value_types: frozenset[type]) -> bool:
    """True if pydantic validation would return `values` unchanged.

    Fast path for updates: stripped non-empty str keys, values of exactly the
    allowed types. Anything else goes through the pydantic validator.
    """
    if type(values) is not dict:
        return False
    for key, value in values.items():
        if type(value) not in value_types or type(key) is not str:
            return False
        if not key or key.strip() != key:
            return False
        if type(value) is float and not isfinite(value):
            return False  # NaN/inf: the validator refuses them
    return True


def image_fields(image: Mapping[str, Any] | SingleImage, validate: bool) -> Fields:
    """User input as (zarr_url, origin, attributes, types), validated if asked."""
    if not validate and type(image) is dict:
        # Fast path for trusted bulk loads of plain dicts.
        return (
            image["zarr_url"],
            image.get("origin"),
            image.get("attributes") or {},
            image.get("types") or {},
        )
    if validate:
        canonical = _canonical_image(image)
        if canonical is not None:
            return canonical
    if isinstance(image, BaseModel):
        image = image.model_dump()
    if validate:
        image = SingleImage.model_validate(image).model_dump()
    return (
        image["zarr_url"],
        image.get("origin"),
        image.get("attributes") or {},
        image.get("types") or {},
    )


def _canonical_image(image: object) -> Fields | None:
    """The fields of `image` if validating it would change nothing, else None.

    Fast path (about 10x cheaper than pydantic) for the common case of plain
    dicts that are already valid and normalised, e.g. files written by us.
    """
    if type(image) is not dict:
        return None
    zarr_url = image.get("zarr_url")
    origin = image.get("origin")
    attributes = image.get("attributes", {})
    types = image.get("types", {})
    if type(zarr_url) is not str or not (origin is None or type(origin) is str):
        return None
    if not already_valid(attributes, STORED_ATTRIBUTE_TYPES):
        return None
    if not already_valid(types, BOOL_TYPE):
        return None
    try:
        if normalize_url(zarr_url) != zarr_url:
            return None
        if origin is not None and normalize_url(origin) != origin:
            return None
    except ValueError:
        return None
    return zarr_url, origin, attributes, types
