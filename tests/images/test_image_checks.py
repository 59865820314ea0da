"""The zarr_dir containment check used when images enter a dataset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.errors import FractalCoreError
from fractal_core.images import ImageOutsideZarrDirError
from fractal_core.images import ensure_inside_zarr_dir
from fractal_core.types import join_url
from tests.strategies import path_segments
from tests.strategies import zarr_urls


@pytest.mark.parametrize(
    ("zarr_url", "zarr_dir"),
    [
        ("/data/a/img", "/data/a"),
        ("/data/a/plate.zarr/A/01/0", "/data/a/"),
        ("s3://bucket/dir/img", "s3://bucket/dir"),
    ],
)
def test_inside(zarr_url: str, zarr_dir: str) -> None:
    ensure_inside_zarr_dir(zarr_url, zarr_dir)


@pytest.mark.parametrize(
    ("zarr_url", "zarr_dir"),
    [
        ("/data/ab/img", "/data/a"),  # plain prefix, not a sub-folder
        ("/data/a", "/data/a"),  # the zarr_dir itself
        ("/data/a/", "/data/a"),
        ("s3://data/a/img", "/data/a"),  # mixed schemes
        ("/data/a/img", "s3://data/a"),
        ("/data/a/../b", "/data/a"),  # invalid URL
        ("relative/img", "/data/a"),
    ],
)
def test_outside(zarr_url: str, zarr_dir: str) -> None:
    with pytest.raises(ImageOutsideZarrDirError) as info:
        ensure_inside_zarr_dir(zarr_url, zarr_dir)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FractalCoreError)
    assert zarr_url in str(info.value) and zarr_dir in str(info.value)
    assert info.value.zarr_url == zarr_url and info.value.zarr_dir == zarr_dir


@given(zarr_urls, st.lists(path_segments, min_size=1, max_size=3))
def test_joined_urls_are_inside(zarr_dir: str, parts: list[str]) -> None:
    ensure_inside_zarr_dir(join_url(zarr_dir, *parts), zarr_dir)
    with pytest.raises(ImageOutsideZarrDirError):
        ensure_inside_zarr_dir(zarr_dir, zarr_dir)
