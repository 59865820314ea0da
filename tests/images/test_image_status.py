"""Pure status enrichment of images for history views."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fractal_core.images import IMAGE_STATUS_KEY
from fractal_core.images import STATUS_UNSET
from fractal_core.images import enrich_images_with_status
from tests.strategies import image_lists


def image(url: str) -> dict:
    return {"zarr_url": url, "origin": None, "attributes": {"a": 1}, "types": {}}


def test_processed_first_then_unset_in_input_order() -> None:
    images = [image("/a"), image("/b"), image("/c"), image("/d")]
    pairs = [("/c", "done"), ("/zz", "failed"), ("/a", "failed")]
    result = enrich_images_with_status(images, pairs)
    assert [(i["zarr_url"], i["attributes"][IMAGE_STATUS_KEY]) for i in result] == [
        ("/c", "done"),
        ("/a", "failed"),
        ("/b", STATUS_UNSET),
        ("/d", STATUS_UNSET),
    ]
    assert result[0]["attributes"]["a"] == 1
    assert images[2]["attributes"] == {"a": 1}  # inputs untouched
    assert STATUS_UNSET == "unset"


@given(image_lists(), st.lists(st.tuples(st.sampled_from(["/x", "/y"]), st.text())))
def test_enrichment_keeps_every_image_once(images: list, pairs: list) -> None:
    result = enrich_images_with_status(images, pairs)
    assert sorted(i["zarr_url"] for i in result) == sorted(
        i["zarr_url"] for i in images
    )
    assert all(IMAGE_STATUS_KEY in i["attributes"] for i in result)
