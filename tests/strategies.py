"""Shared hypothesis strategies: zarr URLs, attribute values, images, filters.

Import as `from tests.strategies import images, type_filters, ...`.
All strategies produce *valid, normalised* values unless their name says otherwise.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "ATTRIBUTE_KEYS",
    "TYPE_KEYS",
    "attribute_filters",
    "attribute_updates",
    "attribute_values",
    "image_attributes",
    "image_lists",
    "image_types",
    "images",
    "local_zarr_urls",
    "path_segments",
    "s3_zarr_urls",
    "type_filters",
    "zarr_urls",
]

TYPE_KEYS = ("3D", "is_corrected", "registered", "t")
"""Small key pools, so that random filters often hit random images."""

ATTRIBUTE_KEYS = ("well", "plate", "acquisition", "z")

path_segments = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-.#",
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
"""One path component: never empty, `.` or `..`."""


def _join(segments: list[str]) -> str:
    return "/".join(segments)


local_zarr_urls = st.lists(path_segments, min_size=1, max_size=4).map(
    lambda segs: "/" + _join(segs)
)
"""Normalised absolute local paths such as `/ab/c.zarr/0`."""

_buckets = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,10}[a-z0-9]\Z")

s3_zarr_urls = st.builds(
    lambda bucket, segs: "s3://" + _join([bucket, *segs]),
    _buckets,
    st.lists(path_segments, min_size=0, max_size=3),
)
"""Normalised `s3://bucket[/key...]` URLs."""

zarr_urls = st.one_of(local_zarr_urls, s3_zarr_urls)
"""Normalised zarr URLs, local or S3."""

attribute_values = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.floats(min_value=-3, max_value=3, allow_nan=False).map(lambda f: round(f, 1)),
    st.sampled_from(["A01", "A02", "B01", "1", ""]),
    st.booleans(),
)
"""Scalar attribute values (int, float, str, bool), drawn from small pools."""

image_types = st.dictionaries(st.sampled_from(TYPE_KEYS), st.booleans(), max_size=3)
"""An image's `types` dict."""

image_attributes = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS), attribute_values, max_size=3
)
"""An image's `attributes` dict (no None values)."""


attribute_updates = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS), attribute_values | st.none(), max_size=3
)
"""Task-output style attribute updates: a None value means "remove the key"."""


def _image(
    zarr_url: str, origin: str | None, attributes: dict, types: dict
) -> dict[str, Any]:
    return {
        "zarr_url": zarr_url,
        "origin": origin,
        "attributes": attributes,
        "types": types,
    }


def images(urls: st.SearchStrategy[str] = zarr_urls) -> st.SearchStrategy[dict]:
    """Valid stored image dicts with all four keys."""
    return st.builds(
        _image,
        urls,
        st.none() | zarr_urls,
        image_attributes,
        image_types,
    )


def image_lists(
    max_size: int = 20, urls: st.SearchStrategy[str] = zarr_urls
) -> st.SearchStrategy[list[dict]]:
    """Lists of images with unique zarr_urls."""
    return st.lists(
        images(urls), max_size=max_size, unique_by=lambda img: img["zarr_url"]
    )


type_filters = st.dictionaries(st.sampled_from(TYPE_KEYS), st.booleans(), max_size=3)
"""Valid type filters."""


@st.composite
def _homogeneous_list(draw: st.DrawFn) -> list:
    kind = draw(
        st.sampled_from(
            [
                st.integers(min_value=-3, max_value=3),
                st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
                st.sampled_from(["A01", "A02", "B01", "1"]),
                st.booleans(),
            ]
        )
    )
    return draw(st.lists(kind, min_size=1, max_size=3))


attribute_filters = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS), _homogeneous_list(), max_size=2
)
"""Valid attribute filters: non-empty, type-homogeneous value lists."""
