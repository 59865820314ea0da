"""Property: the engine's ImageList path equals the dict-index apply rules.

`apply_to_list` / `touch_list` (compact store, O(k) forks: the path `run_job`
takes) must give the same image list, the same errors and the same
`ImageChanges` as `apply_task_output` / `touch_images` on a dict index (which
`test_apply_property` checks against a literal reading of the spec), and must
leave the input list unchanged. Chunks are shrunk to 2 slots so that forks,
appends and removals cross chunk boundaries.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.engine.apply import apply_task_output
from fractal_core.engine.apply import apply_to_list
from fractal_core.engine.apply import touch_images
from fractal_core.engine.apply import touch_list
from fractal_core.engine.errors import TaskOutputApplicationError
from fractal_core.engine.outputs import MergedOutput
from fractal_core.engine.outputs import merge_task_outputs
from fractal_core.engine.outputs import validate_task_output
from fractal_core.engine.runner import image_changes
from fractal_core.images import ImageList
from fractal_core.images import store as store_module

from .test_apply_property import ZARR_DIR
from .test_apply_property import stored_images
from .test_apply_property import type_dicts
from .test_apply_property import unit_output


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "CHUNK_BITS", 1)
    monkeypatch.setattr(store_module, "CHUNK", 2)
    monkeypatch.setattr(store_module, "MASK", 1)


def _changes(changes: Any) -> tuple[list[Any], list[Any], list[str]]:
    return list(changes.created), list(changes.updated), list(changes.removed)


@given(
    images=stored_images(),
    outputs=st.lists(unit_output(), max_size=3),
    output_types=type_dicts,
)
def test_apply_to_list_equals_the_dict_rules(
    images: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    output_types: dict[str, bool],
) -> None:
    merged = merge_task_outputs([validate_task_output(o) for o in outputs], [])
    try:
        merged.check_zarr_urls_are_unique()
    except TaskOutputApplicationError:
        return
    real = ImageList(images)
    before = real.to_list()
    index = {img["zarr_url"]: img for img in real.to_list()}
    try:
        expected = apply_task_output(
            index, merged, zarr_dir=ZARR_DIR, output_types=output_types
        )
    except TaskOutputApplicationError as exc:
        with pytest.raises(type(exc)):
            apply_to_list(real, merged, zarr_dir=ZARR_DIR, output_types=output_types)
        assert real.to_list() == before
        return
    got = apply_to_list(real, merged, zarr_dir=ZARR_DIR, output_types=output_types)
    assert got.images.to_list() == list(expected.images.values())
    assert real.to_list() == before  # the input version never changes
    assert _changes(got.changes()) == _changes(image_changes(index, expected))
    assert got.num_new_images == expected.num_new_images


@given(images=stored_images(), output_types=type_dicts, data=st.data())
def test_touch_list_equals_touch_images(
    images: list[dict[str, Any]], output_types: dict[str, bool], data: st.DataObject
) -> None:
    real = ImageList(images)
    urls = real.zarr_urls()
    chosen = data.draw(st.sets(st.sampled_from(urls)) if urls else st.just(set()))
    touched = [url for url in urls if url in chosen]
    index = real._shared_store()
    snapshot = copy.deepcopy(index)
    expected = touch_images(index, touched, output_types=output_types)
    positions = [real._store.find(url) for url in touched]
    got = touch_list(real, positions, output_types=output_types)  # type: ignore[arg-type]
    assert got.images.to_list() == list(expected.images.values())
    assert real._shared_store() == snapshot
    assert got.updated == expected.updated
    assert _changes(got.changes()) == _changes(image_changes(index, expected))
    empty = MergedOutput(
        image_list_updates=[
            {"zarr_url": url, "origin": None, "attributes": {}, "types": {}}
            for url in touched
        ]
    )
    via_apply = apply_to_list(real, empty, zarr_dir=ZARR_DIR, output_types=output_types)
    assert via_apply.images == got.images


@pytest.mark.parametrize("every", [1, 2, 50])
def test_touch_list_dense_and_sparse_paths(every: int) -> None:
    """Touching many images rebuilds the codes column, a few copy chunks only."""
    images = [
        {"zarr_url": f"/z/{i}", "types": {"t1": i % 3 == 0}, "attributes": {"i": i}}
        for i in range(200)
    ]
    real = ImageList(images)
    touched = [f"/z/{i}" for i in range(0, 200, every)]
    index = real._shared_store()
    expected = touch_images(index, touched, output_types={"t1": True, "t2": False})
    positions = [p for p in map(real._store.find, touched) if p is not None]
    got = touch_list(real, positions, output_types={"t1": True, "t2": False})
    assert got.images.to_list() == list(expected.images.values())
    assert got.updated == expected.updated
    assert real.to_list() == list(index.values())  # the input version is intact
    assert got.images._store.urls_at(positions) == touched
