"""Strict JSON parsing of untrusted files (issue 13: raw decode/recursion errors)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.types.json_text import MAX_JSON_DEPTH
from fractal_core.types.json_text import JsonTextError
from fractal_core.types.json_text import parse_json_bytes


def nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


def test_not_utf8_names_the_byte() -> None:
    with pytest.raises(JsonTextError, match="not UTF-8 at byte 8"):
        parse_json_bytes(b'{"name":\xff}')


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(JsonTextError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        parse_json_bytes(nested(depth))


def test_deep_objects_are_refused_too() -> None:
    raw = ('{"a":' * 100_000 + "1" + "}" * 100_000).encode()
    with pytest.raises(JsonTextError, match="deeper than"):
        parse_json_bytes(raw)


def test_nesting_at_the_limit_is_accepted() -> None:
    assert parse_json_bytes(nested(MAX_JSON_DEPTH)) is not None
    assert parse_json_bytes(nested(5, "[", "]"), max_depth=5) == [[[[[]]]]]


def test_brackets_inside_strings_do_not_count() -> None:
    raw = json.dumps({"s": "[" * 1000, "t": "{" * 1000}).encode()
    assert parse_json_bytes(raw) == {"s": "[" * 1000, "t": "{" * 1000}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(constant: str) -> None:
    with pytest.raises(JsonTextError, match="not a JSON value"):
        parse_json_bytes(f'{{"x": [{constant}]}}'.encode())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"{not json", r"line 1, column 2"), (b"1" * 5000, "not valid JSON")],
)
def test_invalid_json(raw: bytes, expected: str) -> None:
    with pytest.raises(JsonTextError, match=expected):
        parse_json_bytes(raw)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(json_values)
def test_agrees_with_json_loads_on_ordinary_json(value: object) -> None:
    raw = json.dumps(value).encode()
    assert parse_json_bytes(raw) == json.loads(raw)


@given(st.binary(max_size=40))
def test_any_bytes_give_a_value_or_json_text_error(raw: bytes) -> None:
    try:
        parse_json_bytes(raw)
    except JsonTextError as error:
        assert str(error)  # a message, and no other exception type
