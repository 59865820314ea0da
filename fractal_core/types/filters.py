"""Image attribute values, image types and the two kinds of image filters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated
from typing import Any
from typing import Union

from pydantic import AfterValidator
from pydantic import TypeAdapter
from pydantic import ValidationError

from ..errors import FilterError
from .dicts import valdict_keys

__all__ = [
    "AttributeFilters",
    "ImageAttributeValue",
    "ImageAttributes",
    "ImageAttributesWithNone",
    "ImageTypes",
    "TypeFilters",
    "is_finite_scalar",
    "validate_attribute_filters",
    "validate_filters",
]


def is_finite_scalar(value: object) -> bool:
    """False only for a float NaN or ±infinity (JSON has no such values)."""
    return type(value) is not float or math.isfinite(value)


def _finite(value: Any) -> Any:
    """Refuse NaN and ±inf: they are not JSON and never equal themselves."""
    if not is_finite_scalar(value):
        raise ValueError(
            f"Attribute values must be finite numbers (JSON has no NaN or "
            f"Infinity); given {value!r}."
        )
    return value


ImageAttributeValue = Annotated[
    Union[int, float, str, bool],  # noqa: UP007 (smart union)
    AfterValidator(_finite),
]
"""A scalar attribute value; the input's exact type is kept (`"1"` stays a str).

NaN and ±inf are refused (not in 2.17.0: there they break JSON dumps later).
"""


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


_TYPE_FILTERS: TypeAdapter[dict[str, bool]] = TypeAdapter(TypeFilters)
_ATTRIBUTE_FILTERS: TypeAdapter[dict[str, list[Any]]] = TypeAdapter(AttributeFilters)


def _offending_key(adapter: TypeAdapter[Any], raw: Mapping[Any, Any]) -> Any:
    """The first key whose entry fails validation on its own (error path only)."""
    for key, value in raw.items():
        try:
            adapter.validate_python({key: value})
        except ValidationError:
            return key
    return None


def _filter_error(
    kind: str, adapter: TypeAdapter[Any], raw: object, error: ValidationError
) -> FilterError:
    """A FilterError naming the first offending key and its value."""
    first = error.errors()[0]
    loc = first["loc"]
    key = loc[0] if loc and isinstance(loc[0], str) else None
    if key is None and isinstance(raw, Mapping):
        # A whole-dict rule (empty list, mixed types, key clash): find the entry.
        key = _offending_key(adapter, raw)
    if key is not None and isinstance(raw, Mapping) and key in raw:
        value = raw[key]
        where = f"{kind}[{key!r}]={value!r}"
    else:
        value = raw
        where = f"{kind}={raw!r}"
    return FilterError(
        f"Invalid {where}: {first['msg']}", kind=kind, key=key, value=value
    )


def _validated(kind: str, adapter: TypeAdapter[Any], raw: object) -> Any:
    if raw is None:
        return {}
    try:
        return adapter.validate_python(raw)
    except ValidationError as error:
        raise _filter_error(kind, adapter, raw, error) from None


def validate_filters(
    type_filters: Mapping[str, Any] | None = None,
    attribute_filters: Mapping[str, Any] | None = None,
) -> tuple[dict[str, bool], dict[str, list[Any]]]:
    """The one reading of user-given filters, for `ImageList.filter` and `run_job`.

    It is what fractal-server 2.17.0 applies at its API boundary (its pydantic
    `TypeFilters` and `AttributeFilters`, lax mode): keys stripped; type-filter
    values read as booleans the pydantic way (`"true"`, `"yes"`, `1` are True);
    attribute-filter values non-empty, type-homogeneous lists of scalars whose
    exact type is kept (`"1"` stays a string), NaN and ±inf refused. `None`
    means no filter. Anything else raises `FilterError` naming key and value.
    """
    return (
        _validated("type_filters", _TYPE_FILTERS, type_filters),
        _validated("attribute_filters", _ATTRIBUTE_FILTERS, attribute_filters),
    )
