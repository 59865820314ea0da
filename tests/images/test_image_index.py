"""The attribute index and shared types behind ImageList agree with the naive helpers.

Random image lists go through random inserts, replacements, updates and
removals; after each step `filter`/`filter_zarr_urls` (which use the index
for attribute filters, kept up to date by every change) must equal the
reference-style `filter_image_list` on a plain list of dicts, both with the
index always answering and with the "scan when the answer is large" rule.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.images import ImageList
from fractal_core.images import filter_image_list
from fractal_core.images import image_list as image_list_module
from fractal_core.images.index import shared_types

URLS = [f"/data/plate.zarr/{i}" for i in range(12)]
KEYS = ["well", "plate", "i"]
VALUES = st.one_of(
    st.integers(-2, 2), st.sampled_from(["a", "b"]), st.booleans(), st.just(1.0)
)
attributes = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3)
types = st.dictionaries(st.sampled_from(["3D", "mip"]), st.booleans(), max_size=2)
image = st.fixed_dictionaries(
    {
        "zarr_url": st.sampled_from(URLS),
        "origin": st.none(),
        "attributes": attributes,
        "types": types,
    }
)
operation = st.one_of(
    st.tuples(st.just("set"), image),
    st.tuples(
        st.just("update"),
        st.sampled_from(URLS),
        st.dictionaries(st.sampled_from(KEYS), st.one_of(VALUES, st.none())),
    ),
    st.tuples(st.just("remove"), st.sampled_from(URLS)),
)
homogeneous_values = st.one_of(
    st.lists(st.integers(-2, 2), min_size=1, max_size=3),
    st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2),
    st.lists(st.booleans(), min_size=1, max_size=2),
    st.lists(st.sampled_from([1.0, 0.0]), min_size=1, max_size=2),
)
attribute_filter = st.dictionaries(
    st.sampled_from(KEYS), homogeneous_values, max_size=2
)
type_filter = st.dictionaries(st.sampled_from(["3D", "mip"]), st.booleans(), max_size=1)


def _apply(real: ImageList, model: list[dict[str, Any]], op: tuple) -> None:
    """One operation on both sides (the model the reference's way)."""
    urls = [img["zarr_url"] for img in model]
    if op[0] == "set":
        new = copy.deepcopy(op[1])
        real.set(op[1])
        if new["zarr_url"] in urls:
            model[urls.index(new["zarr_url"])] = new
        else:
            model.append(new)
    elif op[0] == "update" and op[1] in urls:
        real.update(op[1], attributes=op[2])
        old = model[urls.index(op[1])]
        merged = {**old["attributes"], **op[2]}
        old["attributes"] = {k: v for k, v in merged.items() if v is not None}
    elif op[0] == "remove" and op[1] in urls:
        real.remove(op[1])
        del model[urls.index(op[1])]


@pytest.mark.parametrize("scan_above", [0, 10**9])
@settings(max_examples=150, deadline=None)
@given(
    start=st.lists(image, max_size=12, unique_by=lambda i: i["zarr_url"]),
    steps=st.lists(
        st.tuples(operation, type_filter, attribute_filter), min_size=1, max_size=12
    ),
)
def test_indexed_filter_equals_plain_filter(
    scan_above: int,
    start: list[dict[str, Any]],
    steps: list[tuple[tuple, dict, dict]],
) -> None:
    """Filters after every change equal filter_image_list on the plain list."""
    old = image_list_module._SCAN_ABOVE
    image_list_module._SCAN_ABOVE = scan_above
    try:
        real = ImageList(start)
        model = copy.deepcopy(start)
        for op, tfilter, afilter in steps:
            real.filter_zarr_urls(None, {"well": ["a"]})  # index built early
            _apply(real, model, op)
            expected = filter_image_list(model, tfilter, afilter)
            assert real.filter(tfilter, afilter) == expected
            assert real.filter_zarr_urls(tfilter, afilter) == [
                img["zarr_url"] for img in expected
            ]
            assert real == model
    finally:
        image_list_module._SCAN_ABOVE = old


def test_large_list_selective_filter_uses_the_index() -> None:
    """Above the scan threshold a selective filter answers from the index, in order."""
    images = [
        {
            "zarr_url": f"/data/p.zarr/{i}",
            "attributes": {"well": f"W{i % 50}", "i": i},
            "types": {"3D": i % 2 == 0},
        }
        for i in range(5000)
    ]
    real = ImageList(images)
    real.update("/data/p.zarr/7", attributes={"well": "W0"})
    assert real.filter_zarr_urls({"3D": True}, {"well": ["W0"]}) == [
        f"/data/p.zarr/{i}" for i in range(0, 5000, 50) if i % 2 == 0
    ]
    assert real._index is not None and "well" in real._index.buckets
    expected = [f"/data/p.zarr/{i}" for i in range(0, 5000, 50)]
    expected.insert(1, "/data/p.zarr/7")
    assert real.filter_zarr_urls(None, {"well": ["W0"]}) == expected
    real.remove("/data/p.zarr/0")
    real.add({"zarr_url": "/data/p.zarr/new", "attributes": {"well": "W0"}})
    assert real.filter_zarr_urls(None, {"well": ["W0"]}) == [
        *expected[1:],
        "/data/p.zarr/new",
    ]


def test_none_accepted_or_unhashable_values_fall_back_to_a_scan() -> None:
    """Filters the index cannot answer exactly give the plain filter's answer."""
    plain = [
        {"zarr_url": "/d/a", "origin": None, "attributes": {"k": 1}, "types": {}},
        {"zarr_url": "/d/b", "origin": None, "attributes": {}, "types": {}},
        {"zarr_url": "/d/c", "origin": None, "attributes": {"k": [1]}, "types": {}},
    ]
    real = ImageList(plain, validate=False)
    for accepted in ([None], [1], [[1]], [True, [1]]):
        expected = filter_image_list(plain, None, {"k": accepted})
        found = real._select_valid({}, {"k": accepted})
        assert [real._store.image(p) for p in found] == expected


def test_equal_types_are_stored_once_and_copies_handed_out() -> None:
    """Equal types dicts share one object at rest; what callers get is a copy."""
    real = ImageList(
        {"zarr_url": f"/d/{i}", "types": {"3D": True, "mip": False}} for i in range(3)
    )
    store = real._store
    codes = [store.code(p) for p in store.positions()]
    assert codes[0] == codes[1] == codes[2] and len(store.tables.types) == 1
    handed = real["/d/0"]
    handed["types"]["3D"] = False
    assert real["/d/1"]["types"] == {"3D": True, "mip": False}
    assert shared_types({"a": 1}) == {"a": 1}
    assert type(shared_types({"a": 1})["a"]) is int  # never turned into True


def test_copy_on_write_keeps_copies_and_lent_stores_apart() -> None:
    """copy() is O(1) but isolated; a store lent to the engine never changes."""
    real = ImageList({"zarr_url": f"/d/{i}"} for i in range(3))
    lent = real._shared_store()
    before = dict(lent)
    twin = real.copy()
    real.add({"zarr_url": "/d/x"})
    twin.remove("/d/0")
    real.update("/d/1", attributes={"a": 1})
    assert lent == before and list(lent) == ["/d/0", "/d/1", "/d/2"]
    assert twin.zarr_urls() == ["/d/1", "/d/2"]
    assert real.zarr_urls() == ["/d/0", "/d/1", "/d/2", "/d/x"]
    assert real["/d/1"]["attributes"] == {"a": 1}
    assert twin["/d/1"]["attributes"] == {}
