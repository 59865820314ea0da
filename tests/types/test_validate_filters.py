"""`validate_filters`: one reading of user filters, the pydantic types' one."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from pydantic import TypeAdapter
from pydantic import ValidationError

import fractal_core
from fractal_core.errors import FilterError
from fractal_core.errors import FractalCoreError
from fractal_core.types import AttributeFilters
from fractal_core.types import TypeFilters
from fractal_core.types import validate_filters
from tests.strategies import raw_attribute_filter_dicts
from tests.strategies import raw_type_filter_dicts

TYPES: TypeAdapter[Any] = TypeAdapter(TypeFilters)
ATTRIBUTES: TypeAdapter[Any] = TypeAdapter(AttributeFilters)


def _outcome(adapter: TypeAdapter[Any], value: Any) -> tuple[str, Any]:
    try:
        return ("ok", adapter.validate_python(value))
    except ValidationError:
        return ("error", None)


def _ours(position: int, value: Any) -> tuple[str, Any]:
    args: list[Any] = [None, None]
    args[position] = value
    try:
        return ("ok", validate_filters(*args)[position])
    except FilterError:
        return ("error", None)


@given(raw_type_filter_dicts)
def test_type_filters_agree_with_pydantic_type(value: dict) -> None:
    assert _ours(0, value) == _outcome(TYPES, value)


@given(raw_attribute_filter_dicts)
def test_attribute_filters_agree_with_pydantic_type(value: dict) -> None:
    assert _ours(1, value) == _outcome(ATTRIBUTES, value)


def test_lax_boolean_reading_as_the_reference_api() -> None:
    types, attributes = validate_filters({" 3D": "true", "b": 0}, {"w": ["1"]})
    assert types == {"3D": True, "b": False}
    assert attributes == {"w": ["1"]}  # exact type kept: "1" stays a string


def test_none_means_no_filter() -> None:
    assert validate_filters() == ({}, {})
    assert validate_filters(None, None) == ({}, {})


@pytest.mark.parametrize(
    ("types", "attributes", "kind", "key", "value"),
    [
        (None, {"w": None}, "attribute_filters", "w", None),
        (None, {"w": []}, "attribute_filters", "w", []),
        (None, {"a": [1], "w": [1, "x"]}, "attribute_filters", "w", [1, "x"]),
        (None, {"w": [{"x": 1}]}, "attribute_filters", "w", [{"x": 1}]),
        ({"3D": "maybe"}, None, "type_filters", "3D", "maybe"),
        ({"3D": None}, None, "type_filters", "3D", None),
    ],
)
def test_bad_entries_name_kind_key_and_value(
    types: Any, attributes: Any, kind: str, key: str, value: Any
) -> None:
    with pytest.raises(FilterError) as info:
        validate_filters(types, attributes)
    error = info.value
    assert (error.kind, error.key, error.value) == (kind, key, value)
    assert f"{kind}[{key!r}]={value!r}" in str(error)
    assert isinstance(error, FractalCoreError) and isinstance(error, ValueError)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_filter_values_refused(bad: float) -> None:
    with pytest.raises(FilterError, match="finite"):
        validate_filters(None, {"z": [bad]})


@pytest.mark.parametrize("bad", [3, "3D", [("3D", True)]])
def test_non_mapping_filters_refused(bad: Any) -> None:
    with pytest.raises(FilterError, match="type_filters="):
        validate_filters(bad, None)


def test_exported_from_public_homes() -> None:
    assert fractal_core.types.validate_filters is validate_filters
    assert fractal_core.errors.FilterError is FilterError
