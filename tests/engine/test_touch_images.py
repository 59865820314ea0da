"""Property: `touch_images` equals applying one empty update per touched image.

A task that returns nothing touches every input image (its `output_types`
reach them); the engine does this without building an update per image. For
random image lists, touched subsets and output types, the new index must
equal `apply_task_output`'s with `{"zarr_url": url}` updates (order, values,
value types), and `updated` must list exactly the images whose content changed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fractal_core.engine.apply import apply_task_output
from fractal_core.engine.apply import touch_images
from fractal_core.engine.outputs import MergedOutput
from fractal_core.engine.runner import image_changes
from fractal_core.images import ImageList

URLS = [f"/z/img{i}" for i in range(6)]
types = st.dictionaries(st.sampled_from(["t1", "t2", "t3"]), st.booleans(), max_size=3)
images = st.lists(
    st.fixed_dictionaries(
        {
            "zarr_url": st.sampled_from(URLS),
            "origin": st.one_of(st.none(), st.sampled_from(URLS)),
            "attributes": st.dictionaries(
                st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2
            ),
            "types": types,
        }
    ),
    unique_by=lambda image: image["zarr_url"],
    max_size=6,
)


@given(images=images, data=st.data(), output_types=types)
def test_touch_equals_empty_updates(
    images: list[dict[str, Any]], data: st.DataObject, output_types: dict[str, bool]
) -> None:
    index = ImageList(images)._shared_store()
    urls = [image["zarr_url"] for image in images]
    touched = data.draw(
        st.lists(st.sampled_from(urls), unique=True) if urls else st.just([])
    )
    expected = apply_task_output(
        index,
        MergedOutput(
            image_list_updates=[
                {"zarr_url": url, "origin": None, "attributes": {}, "types": {}}
                for url in touched
            ]
        ),
        zarr_dir="/z",
        output_types=output_types,
    )
    snapshot = {url: dict(image) for url, image in index.items()}
    got = touch_images(index, touched, output_types=output_types)
    assert list(got.images.items()) == list(expected.images.items())
    assert index == snapshot  # the input index is never changed
    changed = [url for url in touched if expected.images[url] != index[url]]
    assert got.updated == changed
    assert image_changes(index, got) == image_changes(index, expected)
