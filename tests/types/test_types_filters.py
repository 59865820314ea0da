"""Attribute values, attribute filters and image attributes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from pydantic import BaseModel
from pydantic import Field
from pydantic import ValidationError

from fractal_core.types import AttributeFilters
from fractal_core.types import ImageAttributes
from fractal_core.types import ImageAttributesWithNone
from tests.strategies import attribute_filters
from tests.strategies import image_attributes

VALID_ATTRIBUTE_FILTERS = (
    {},
    {"key1": ["A"]},
    {"key1": ["A", "B"]},
    {"key1": [1, 2]},
    {"key1": [1, 2, 1]},
    {"key1": [True, False]},
    {"key1": [1.5, -1.2]},
    {"key1": [1, 2], "key2": ["A", "B"]},
)
INVALID_ATTRIBUTE_FILTERS = (
    {"key1": None},
    {"key1": []},
    {True: ["value"]},
    {1: ["value"]},
    {"key1": 1},
    {"key1": True},
    {"key1": "something"},
    {"key1": [1], " key1": [1]},
    {"key1": [None]},
    {"key1": [1, 1.0]},
    {"key1": [1, "a"]},
    {"key1": [[1, 2], [1, 2]]},
    {"key1": [1, True]},
)


class Filters(BaseModel):
    attribute_filters: AttributeFilters = Field(default_factory=dict)


class Attrs(BaseModel):
    attributes: ImageAttributes = Field(default_factory=dict)
    with_none: ImageAttributesWithNone = Field(default_factory=dict)


@pytest.mark.parametrize("value", VALID_ATTRIBUTE_FILTERS)
def test_valid_attribute_filters(value: dict) -> None:
    assert Filters(attribute_filters=value).attribute_filters == value


@pytest.mark.parametrize("value", INVALID_ATTRIBUTE_FILTERS)
def test_invalid_attribute_filters(value: dict) -> None:
    with pytest.raises(ValidationError):
        Filters(attribute_filters=value)


def test_attribute_filter_messages_name_the_key() -> None:
    with pytest.raises(ValidationError, match=r"attribute_filters\[k\] cannot be"):
        Filters(attribute_filters={"k": []})
    with pytest.raises(ValidationError, match="non-homogeneous types"):
        Filters(attribute_filters={"k": [1, 1.0]})


def test_tuple_is_coerced_to_list() -> None:
    assert Filters(attribute_filters={"k": (1, 2)}).attribute_filters == {"k": [1, 2]}


@given(attribute_filters)
def test_generated_filters_are_valid(value: dict) -> None:
    assert Filters(attribute_filters=value).attribute_filters == value


def test_attribute_values_keep_exact_type() -> None:
    attrs = Attrs(attributes={"s": "1", "f": 1.0, "b": True, "i": 1}).attributes
    assert [type(v) for v in attrs.values()] == [str, float, bool, int]
    assert Attrs(attributes={"b": b"raw"}).attributes == {"b": "raw"}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_attribute_values_refuse_nan_and_infinity(bad: float) -> None:
    # Issue 13: NaN/inf are not JSON (2.17.0 accepts them and fails on dump).
    with pytest.raises(ValidationError, match="finite"):
        Attrs(attributes={"n": bad})
    with pytest.raises(ValidationError, match="finite"):
        Filters(attribute_filters={"n": [1.0, bad]})


@pytest.mark.parametrize(
    "bad", [None, [1], {"a": 1}, {"s"}, ("t",), int, bool, lambda x: x]
)
def test_attribute_values_reject_non_scalars(bad: object) -> None:
    with pytest.raises(ValidationError):
        Attrs(attributes={"key": bad})
    if bad is not None:
        with pytest.raises(ValidationError):
            Attrs(with_none={"key": bad})


def test_with_none_accepts_none() -> None:
    assert Attrs(with_none={"a": None, "b": 1}).with_none == {"a": None, "b": 1}


@given(image_attributes)
def test_generated_attributes_round_trip(value: dict) -> None:
    result = Attrs(attributes=value).attributes
    assert result == value
    assert [type(v) for v in result.values()] == [type(v) for v in value.values()]
