"""The chunked column store behind ImageList equals a naive list of dicts.

Chunks are shrunk to 4 slots so that random operation sequences cross chunk
boundaries, fork (copy) often, fill the insertion overlay past its flatten
threshold and compact after many removals. After every step every live copy
must equal its own naive model (a list of dicts changed the reference's way),
and filters must equal `filter_image_list`.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.images import DuplicateImageError
from fractal_core.images import ImageList
from fractal_core.images import ImageNotFoundError
from fractal_core.images import filter_image_list
from fractal_core.images import image_list as image_list_module
from fractal_core.images import store as store_module

URLS = [f"/data/plate.zarr/{i}" for i in range(40)]
KEYS = ["well", "i"]
VALUES = st.one_of(st.integers(0, 2), st.sampled_from(["a", "b"]), st.booleans())
image = st.fixed_dictionaries(
    {
        "zarr_url": st.sampled_from(URLS),
        "origin": st.sampled_from([None, "/data/plate.zarr/0"]),
        "attributes": st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=2),
        "types": st.dictionaries(st.sampled_from(["3D", "mip"]), st.booleans()),
    }
)
operation = st.one_of(
    st.tuples(st.just("set"), image),
    st.tuples(st.just("add"), image),
    st.tuples(
        st.just("update"),
        st.sampled_from(URLS),
        st.dictionaries(st.sampled_from(KEYS), st.one_of(VALUES, st.none())),
        st.dictionaries(st.sampled_from(["3D", "mip"]), st.booleans()),
    ),
    st.tuples(st.just("remove"), st.sampled_from(URLS)),
    st.tuples(st.just("fork")),
    st.tuples(st.just("filter"), st.sampled_from([{}, {"3D": True}, {"mip": False}])),
)


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 4 slots, and indexes used even for small lists."""
    monkeypatch.setattr(store_module, "CHUNK_BITS", 2)
    monkeypatch.setattr(store_module, "CHUNK", 4)
    monkeypatch.setattr(store_module, "MASK", 3)
    monkeypatch.setattr(image_list_module, "_SCAN_ABOVE", 4)


def _model_step(model: list[dict[str, Any]], op: tuple[Any, ...]) -> bool:
    """Apply `op` to the naive model; False if the real list must refuse it."""
    urls = [img["zarr_url"] for img in model]
    if op[0] in ("set", "add"):
        new = copy.deepcopy(op[1])
        if new["zarr_url"] in urls:
            if op[0] == "add":
                return False
            model[urls.index(new["zarr_url"])] = new
        else:
            model.append(new)
        return True
    if op[1] not in urls:
        return False
    i = urls.index(op[1])
    if op[0] == "remove":
        del model[i]
        return True
    merged = {**model[i]["attributes"], **op[2]}
    model[i]["attributes"] = {k: v for k, v in merged.items() if v is not None}
    model[i]["types"] = {**model[i]["types"], **op[3]}
    return True


def _real_step(real: ImageList, op: tuple[Any, ...]) -> None:
    if op[0] == "set":
        real.set(op[1])
    elif op[0] == "add":
        real.add(op[1])
    elif op[0] == "update":
        real.update(op[1], attributes=op[2], types=op[3])
    else:
        real.remove(op[1])


@settings(max_examples=150, deadline=None)
@given(st.lists(image, max_size=12), st.lists(operation, max_size=60))
def test_random_operations_and_forks_match_the_naive_list(
    start: list[dict[str, Any]], ops: list[tuple[Any, ...]]
) -> None:
    start = list({img["zarr_url"]: img for img in start}.values())
    pairs = [(ImageList(copy.deepcopy(start)), copy.deepcopy(start))]
    for n, op in enumerate(ops):
        real, model = pairs[n % len(pairs)]
        if op[0] == "fork":
            pairs.append((real.copy(), copy.deepcopy(model)))
        elif op[0] == "filter":
            expected = filter_image_list(model, op[1])
            assert real.filter(op[1]) == expected
            assert real.filter_zarr_urls(op[1]) == [i["zarr_url"] for i in expected]
        elif _model_step(model, op):
            _real_step(real, op)
        else:
            with pytest.raises((DuplicateImageError, ImageNotFoundError)):
                _real_step(real, op)
        for other_real, other_model in pairs:
            assert other_real.to_list() == other_model
            assert len(other_real) == len(other_model)
    for real, model in pairs:
        assert real == ImageList(model) and real == model
        for img in model:
            assert real[img["zarr_url"]] == img
        assert pickle.loads(pickle.dumps(real)) == model


def test_compaction_and_overlay_keep_look_ups_right() -> None:
    """Many removals compact the store; many inserts into a fork flatten it."""
    real = ImageList(
        {"zarr_url": f"/d/{i}", "types": {"a": i % 2 == 0}} for i in range(50)
    )
    layout = real._store.layout
    for i in range(0, 45):
        real.remove(f"/d/{i}")
    assert real._store.layout is not layout  # compacted
    assert real.zarr_urls() == [f"/d/{i}" for i in range(45, 50)]
    twin = real.copy()
    for i in range(100, 140):
        twin.add({"zarr_url": f"/d/{i}"})
    twin.remove("/d/100")
    twin.add({"zarr_url": "/d/100", "attributes": {"k": 1}})
    assert twin["/d/100"]["attributes"] == {"k": 1}
    assert "/d/100" not in real and len(real) == 5
    assert twin.zarr_urls()[-1] == "/d/100" and len(twin) == 45
    assert twin.filter_zarr_urls({"a": True}) == ["/d/46", "/d/48"]


def test_attribute_values_keep_their_types_and_key_order() -> None:
    """Packed attributes come back with the same key order and value types."""
    real = ImageList(
        [{"zarr_url": "/d/a", "attributes": {"b": 1, "a": 1.0, "c": True}}]
    )
    got = real["/d/a"]["attributes"]
    assert list(got) == ["b", "a", "c"]
    assert [type(v) for v in got.values()] == [int, float, bool]
    other = ImageList(
        [{"zarr_url": "/d/a", "attributes": {"a": 1.0, "c": True, "b": 1}}]
    )
    assert real == other  # dict equality, whatever the key order


def test_images_at_rest_add_no_work_for_the_garbage_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No per-image object stays tracked by the cyclic collector (1M images
    would otherwise be walked on every full collection)."""
    import gc

    monkeypatch.setattr(store_module, "CHUNK_BITS", 10)
    monkeypatch.setattr(store_module, "CHUNK", 1024)
    monkeypatch.setattr(store_module, "MASK", 1023)
    gc.collect()
    before = len(gc.get_objects())
    real = ImageList(
        {
            "zarr_url": f"/d/{i}",
            "attributes": {"well": "A01", "i": i, "x": 0.5},
            "types": {"3D": i % 2 == 0},
        }
        for i in range(5000)
    )
    gc.collect()
    tracked = len(gc.get_objects()) - before
    assert len(real) == 5000 and tracked < 5000 // 20


def test_built_images_are_independent_and_skip_holes() -> None:
    """Every way of building dicts (type scan, positions, whole list) skips
    removed slots and hands out fresh attribute and types dicts per image."""
    images = [
        {
            "zarr_url": f"/d/{i}",
            "origin": None,
            "attributes": {"well": "AB"[i % 2], "i": i},
            "types": {"3D": i % 3 != 0},
        }
        for i in range(30)
    ]
    real = ImageList(copy.deepcopy(images))
    removed = {f"/d/{i}" for i in (0, 5, 6, 13)}
    for url in removed:
        real.remove(url)
    model = [img for img in images if img["zarr_url"] not in removed]
    for filters in ({"3D": True}, {"3D": False}, {}):
        out = real.filter(filters)
        assert out == filter_image_list(model, filters)
        inner = [d[part] for d in out for part in ("attributes", "types")]
        assert len({id(d) for d in inner}) == len(inner)
    assert real.filter({"3D": True}, {"well": ["A"]}) == filter_image_list(
        model, {"3D": True}, {"well": ["A"]}
    )
    listed = real.to_list()
    assert listed == model
    listed[0]["types"]["3D"] = "changed"
    real.filter({"3D": True})[0]["attributes"]["i"] = -1
    assert real.to_list() == model
