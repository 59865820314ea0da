"""The fast output parser gives exactly what the pydantic models give."""

from __future__ import annotations

from typing import Any

from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.engine.errors import TaskOutputValidationError
from fractal_core.engine.fast_output import parse_task_output
from fractal_core.engine.outputs import as_plain
from fractal_core.engine.outputs import validate_task_output

URLS = [
    "/a",
    "/a/",
    " /b ",
    "/c//d",
    "/x/../y",
    "/./e",
    "rel",
    "",
    "s3://bkt/k/",
    "s3:/x",
]
odd_values = st.sampled_from([5, None, 1.5, ["/a"], {"x": 1}])
urls = st.one_of(st.sampled_from(URLS), odd_values)
keys = st.sampled_from(["k", " k", "k ", "", "k2", "  "])
attribute_values = st.one_of(
    st.integers(-2, 2),
    st.floats(allow_nan=False),
    st.sampled_from(["s", "1", "true", True, False, None]),
    st.sampled_from([[1], {"a": 1}]),
)
type_values = st.sampled_from([True, False, 1, 0, "true", "no", None, 2.0])

images = st.fixed_dictionaries(
    {"zarr_url": urls},
    optional={
        "origin": st.one_of(st.none(), urls),
        "attributes": st.one_of(
            st.dictionaries(keys, attribute_values, max_size=3), st.none(), st.just([])
        ),
        "types": st.one_of(st.dictionaries(keys, type_values, max_size=3), st.none()),
        "extra": st.integers(),
    },
)
outputs = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "image_list_updates": st.one_of(st.lists(images, max_size=3), st.none()),
            "image_list_removals": st.one_of(st.lists(urls, max_size=3), st.none()),
            "foo": st.integers(),
        },
    ),
    st.sampled_from([[], None, "x", 3]),
)


def _slow(value: Any) -> Any:
    try:
        return as_plain(validate_task_output(value))
    except TaskOutputValidationError:
        return "invalid"


def _fast(value: Any) -> Any:
    try:
        return parse_task_output(value)
    except TaskOutputValidationError:
        return "invalid"


def _exact(value: Any) -> str:
    """A comparison key that tells 1, 1.0 and True apart (== does not)."""
    return repr(value)


@settings(max_examples=400)
@given(outputs)
@example({"image_list_updates": [{"zarr_url": "/a", "types": {"k": 1}}]})
@example({"image_list_updates": [{"zarr_url": "/a", "types": {" k": True}}]})
@example({"image_list_updates": [{"zarr_url": "/a", "attributes": {"k": [1]}}]})
@example({"image_list_updates": [{"zarr_url": "/a", "attributes": None}]})
@example({"image_list_removals": ["/a/../b"]})
def test_fast_parser_equals_pydantic(value: Any) -> None:
    assert _exact(_fast(value)) == _exact(_slow(value))


def test_canonical_output_normalises_urls() -> None:
    parsed = parse_task_output(
        {
            "image_list_updates": [
                {"zarr_url": "/z/a//", "origin": "/z/b/", "attributes": {"k": None}}
            ],
            "image_list_removals": ["s3://bkt/x/"],
        }
    )
    assert parsed.image_list_updates == [
        {"zarr_url": "/z/a", "origin": "/z/b", "attributes": {"k": None}, "types": {}}
    ]
    assert parsed.image_list_removals == ["s3://bkt/x"]
