"""Hypothesis strategies for repository tests: images inside one zarr_dir and
random sequences of per-task image changes.

`change_steps(data, current)` draws one `ImageChanges` that fits the current
image list (created urls absent, updated and removed urls present, the three
sets disjoint), the way the engine produces them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fractal_core.engine.recorder import ImageChanges
from fractal_core.images.image_list import ImageList
from tests.strategies import image_attributes
from tests.strategies import image_types

ZARR_DIR = "/data/zarr"
URL_POOL = tuple(f"{ZARR_DIR}/plate.zarr/{row}/{col}" for row in "AB" for col in "0123")
"""Few urls, so that created, updated and removed images collide often."""


def image_for(url: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid stored image dict with this zarr_url (origin inside the pool)."""
    return st.builds(
        lambda origin, attributes, types: {
            "zarr_url": url,
            "origin": origin,
            "attributes": attributes,
            "types": types,
        },
        st.none() | st.sampled_from(URL_POOL),
        image_attributes,
        image_types,
    )


@st.composite
def pool_images(draw: st.DrawFn, max_size: int = 6) -> list[dict[str, Any]]:
    """A list of images with distinct urls from `URL_POOL`, in random order."""
    urls = draw(st.lists(st.sampled_from(URL_POOL), unique=True, max_size=max_size))
    return [draw(image_for(url)) for url in urls]


def change_step(data: st.DataObject, current: ImageList) -> ImageChanges:
    """Draw changes that the engine could report for `current`."""
    present = current.zarr_urls()
    absent = [url for url in URL_POOL if url not in current]
    created_urls = data.draw(
        st.lists(st.sampled_from(absent), unique=True) if absent else st.just([])
    )
    touched = data.draw(
        st.lists(st.sampled_from(present), unique=True) if present else st.just([])
    )
    split = data.draw(st.integers(min_value=0, max_value=len(touched)))
    return ImageChanges(
        created=[data.draw(image_for(url)) for url in created_urls],
        updated=[data.draw(image_for(url)) for url in touched[:split]],
        removed=touched[split:],
    )


def applied(images: ImageList, changes: ImageChanges) -> ImageList:
    """The reference result: `changes` applied to a copy of an `ImageList`."""
    result = images.copy()
    for image in changes.created:
        result.add(image)
    for image in changes.updated:
        result.set(image)
    for url in changes.removed:
        result.remove(url)
    return result
