"""`Dataset(...)` refuses what no dataset may hold (issue 13)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fractal_core.domain import Dataset
from fractal_core.images import ImageList
from fractal_core.images import ImageOutsideZarrDirError
from fractal_core.images.checks import ensure_all_inside_zarr_dir
from fractal_core.images.checks import ensure_inside_zarr_dir
from tests.strategies import path_segments


def image(url: str, **attributes: object) -> dict:
    return {"zarr_url": url, "attributes": attributes}


@pytest.mark.parametrize("url", ["/other/a", "/z", "/zz/a", "s3://b/z/a"])
def test_images_outside_zarr_dir_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="is not inside zarr_dir") as info:
        Dataset(name="d", zarr_dir="/z", images=[image("/z/ok"), image(url)])
    assert info.value.errors()[0]["loc"] == ("images",)
    with pytest.raises(ValidationError, match="is not inside zarr_dir"):
        Dataset(name="d", zarr_dir="/z", images=ImageList([image(url)]))


def test_trusted_image_lists_are_checked_too() -> None:
    trusted = ImageList.trusted(
        [{"zarr_url": "/z/../etc", "origin": None, "attributes": {}, "types": {}}]
    )
    with pytest.raises(ValidationError, match="not inside"):
        Dataset(name="d", zarr_dir="/z", images=trusted)


def test_images_inside_are_accepted() -> None:
    ds = Dataset(name="d", zarr_dir="s3://b/z/", images=[image("s3://b/z/a/0")])
    assert ds.images.zarr_urls() == ["s3://b/z/a/0"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_attributes_are_refused(bad: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        Dataset(name="d", zarr_dir="/z", images=[image("/z/a", x=bad)])
    ds = Dataset(name="d", zarr_dir="/z")
    with pytest.raises(ValidationError, match="finite"):
        ds.add_image(image("/z/a", x=bad))


def test_nul_bytes_in_zarr_dir_are_refused() -> None:
    with pytest.raises(ValidationError, match="zarr_dir must not contain control"):
        Dataset(name="d", zarr_dir="/z\x00/a")


_urls = st.builds(
    lambda head, segs, tail: head + "/".join(segs) + tail,
    st.sampled_from(["/z/", "/z", "/zz/", "//z/", "/z/./", "/z/../", "/"]),
    st.lists(path_segments | st.sampled_from([".", "..", "", ".x"]), max_size=3),
    st.sampled_from(["", "/", " ", "/.", "\x00", "/ ", "\u00a0"]),
)


@given(st.lists(_urls, min_size=1, max_size=4), st.sampled_from(["/z", "/z/"]))
def test_bulk_check_agrees_with_one_off_check(urls: list[str], zarr_dir: str) -> None:
    def one_off(url: str) -> bool:
        try:
            ensure_inside_zarr_dir(url, zarr_dir)
        except ImageOutsideZarrDirError:
            return False
        return True

    expected = all(one_off(url) for url in urls)
    try:
        ensure_all_inside_zarr_dir(urls, zarr_dir)
        got = True
    except ImageOutsideZarrDirError:
        got = False
    assert got == expected
