"""ImageList: API contract, copy isolation, pydantic integration."""

from __future__ import annotations

import copy
import math
import pickle
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import ValidationError

from fractal_core.errors import FilterError
from fractal_core.errors import FractalCoreError
from fractal_core.images import DuplicateImageError
from fractal_core.images import ImageList
from fractal_core.images import ImageNotFoundError
from fractal_core.images import SingleImage
from fractal_core.images import filter_image_list
from tests.strategies import attribute_updates
from tests.strategies import image_types


def img(url: str, **attrs: object) -> dict:
    return {"zarr_url": url, "attributes": dict(attrs), "types": {}}


def full(url: str, attributes: dict | None = None, types: dict | None = None) -> dict:
    return {
        "zarr_url": url,
        "origin": None,
        "attributes": attributes or {},
        "types": types or {},
    }


def test_construction_normalises_and_orders() -> None:
    images = ImageList([img("/b/"), SingleImage(zarr_url="/a"), img("s3://bk/x/")])
    assert images.zarr_urls() == ["/b", "/a", "s3://bk/x"]
    assert len(images) == 3
    assert "/a" in images and "/a/" not in images and 3 not in images
    assert images["/b"] == full("/b")
    assert list(images) == [full("/b"), full("/a"), full("s3://bk/x")]
    assert repr(images) == "ImageList(len=3, first='/b')"
    assert repr(ImageList()) == "ImageList(len=0)"


def test_construction_validates() -> None:
    with pytest.raises(ValidationError):
        ImageList([img("relative")])
    with pytest.raises(ValidationError):
        ImageList([{"zarr_url": "/a", "attributes": {"k": None}}])
    with pytest.raises(DuplicateImageError, match="/a"):
        ImageList([img("/a"), img("/a/")])
    trusted = ImageList([{"zarr_url": "/a/"}], validate=False)
    assert trusted.zarr_urls() == ["/a/"]  # not normalised when not validating
    assert trusted["/a/"] == full("/a/")


def test_trusted_load_validates_later_changes() -> None:
    images = ImageList.trusted([{"zarr_url": "/a/"}])
    assert images.zarr_urls() == ["/a/"]  # loaded as given
    with pytest.raises(ValidationError):
        images.add(img("relative"))
    with pytest.raises(ValidationError):
        images.update("/a/", attributes={"k": [1]})
    loose = ImageList([{"zarr_url": "/a"}], validate=False)
    loose.add({"zarr_url": "relative"})  # the caller asked for no validation
    assert "relative" in loose


def test_missing_image_errors() -> None:
    images = ImageList([img("/a")])
    for action in (
        lambda: images["/x"],
        lambda: images.remove("/x"),
        lambda: images.update("/x", types={"t": True}),
    ):
        with pytest.raises(ImageNotFoundError) as info:
            action()
        assert isinstance(info.value, KeyError)
        assert isinstance(info.value, FractalCoreError)
        assert "'/x'" in str(info.value)
        assert info.value.zarr_url == "/x"
    assert images.get("/x") is None
    assert images.get("/x", 5) == 5
    assert images.get("/a") == full("/a")


def test_add_set_update_remove() -> None:
    images = ImageList([img("/a", k=1), img("/b"), img("/c")])
    with pytest.raises(DuplicateImageError) as info:
        images.add(img("/b"))
    assert isinstance(info.value, ValueError) and isinstance(
        info.value, FractalCoreError
    )
    images.add(img("/d"))
    images.set(img("/b", new=True))  # replace keeps position
    images.set(img("/e"))  # insert appends
    assert images.zarr_urls() == ["/a", "/b", "/c", "/d", "/e"]
    assert images["/b"]["attributes"] == {"new": True}
    images.update("/a", attributes={"k": None, "j": "x"}, types={"t": True})
    images.update("/a", types={"u": False})
    assert images["/a"] == full("/a", {"j": "x"}, {"t": True, "u": False})
    images.remove("/c")
    assert images.zarr_urls() == ["/a", "/b", "/d", "/e"]
    images.add(img("/c"))
    assert images.zarr_urls()[-1] == "/c"


def test_update_validates() -> None:
    images = ImageList([img("/a")])
    for bad in [{"k": [1]}, {"k": {"x": 1}}, {"": 1}]:
        with pytest.raises(ValidationError):
            images.update("/a", attributes=bad)
    with pytest.raises(ValidationError):
        images.update("/a", types={"t": "maybe"})
    images.update("/a", attributes={" k ": 1}, types={"t": "yes"})
    assert images["/a"] == full("/a", {"k": 1}, {"t": True})


def test_copies_are_isolated() -> None:
    original = ImageList([img("/a", k=1), img("/b")])
    clone = original.copy()
    clone.update("/a", attributes={"k": 2})
    clone.remove("/b")
    clone.add(img("/z"))
    assert original.zarr_urls() == ["/a", "/b"]
    assert original["/a"]["attributes"] == {"k": 1}
    # handed-out dicts are copies: mutating them does not touch the list
    out = original["/a"]
    out["attributes"]["k"] = 99
    out["types"]["t"] = True
    for image in original:
        image["attributes"].clear()
    original.to_list()[0]["attributes"]["k"] = 7
    original.filter()[0]["attributes"]["k"] = 8
    assert original["/a"] == full("/a", {"k": 1})


def test_stdlib_copy_and_pickle_are_isolated() -> None:
    original = ImageList([img("/a", k=1)])
    for clone in (
        copy.copy(original),
        copy.deepcopy(original),
        pickle.loads(pickle.dumps(original)),
    ):
        assert clone == original
        clone.update("/a", attributes={"k": 2})
        assert original["/a"]["attributes"] == {"k": 1}


def test_equality() -> None:
    a = ImageList([img("/a"), img("/b")])
    assert a == ImageList([img("/a"), img("/b")])
    assert a != ImageList([img("/b"), img("/a")])  # order matters
    assert a != ImageList([img("/a"), img("/b", k=1)])
    assert a == [full("/a"), full("/b")]
    assert a != [full("/a")]
    assert a != "not a list"
    with pytest.raises(TypeError):
        hash(a)


def test_filter_matches_filter_image_list() -> None:
    images = ImageList(
        [
            full("/p/1", {"well": "A01", "n": 1}, {"3D": True}),
            full("/p/2", {"well": "A02", "n": 1.0}, {"3D": False}),
            full("/p/3", {"well": "A01", "n": True}, {}),
            full("/p/4", {}, {"3D": True}),
        ]
    )
    plain = images.to_list()
    for types, attrs in [
        (None, None),
        ({"3D": True}, None),
        ({"3D": False}, None),
        (None, {"well": ["A01"]}),
        (None, {"n": [1]}),
        ({"3D": True}, {"well": ["A01", "A02"]}),
        ({}, {"missing": ["x"]}),
    ]:
        assert images.filter(types, attrs) == filter_image_list(plain, types, attrs)
    assert [i["zarr_url"] for i in images.filter({"3D": False})] == ["/p/2", "/p/3"]


class Dataset(BaseModel):
    zarr_dir: str
    images: ImageList


def test_pydantic_field_round_trip() -> None:
    ds = Dataset(zarr_dir="/d", images=[img("/d/a/"), {"zarr_url": "/d/b"}])
    assert isinstance(ds.images, ImageList)
    assert ds.images.zarr_urls() == ["/d/a", "/d/b"]
    dumped = ds.model_dump()
    assert dumped["images"] == [full("/d/a"), full("/d/b")]
    assert isinstance(dumped["images"], list)
    again = Dataset.model_validate_json(ds.model_dump_json())
    assert again.images == ds.images
    same = Dataset(zarr_dir="/d", images=ds.images)
    assert same.images is ds.images
    schema = Dataset.model_json_schema()
    assert schema["properties"]["images"]["type"] == "array"
    # the list validated by the model keeps validating later changes
    with pytest.raises(ValidationError):
        ds.images.add(img("relative"))


def test_pydantic_field_errors_name_the_image() -> None:
    with pytest.raises(ValidationError) as info:
        Dataset(zarr_dir="/d", images=[img("/d/a"), img("/d/../x")])
    assert "images.1.zarr_url" in str(info.value)
    assert "/d/../x" in str(info.value)
    with pytest.raises(ValidationError, match="already exists"):
        Dataset(zarr_dir="/d", images=[img("/d/a"), img("/d/a/")])
    with pytest.raises(ValidationError):
        Dataset(zarr_dir="/d", images="nope")


def test_filter_zarr_urls() -> None:
    images = ImageList([full("/a", {"w": "A"}, {"t": True}), full("/b", {"w": "B"})])
    assert images.filter_zarr_urls() == ["/a", "/b"]
    assert images.filter_zarr_urls({"t": False}) == ["/b"]
    assert images.filter_zarr_urls(None, {"w": ["A"]}) == ["/a"]


def test_filter_with_unhashable_image_values() -> None:
    loose = ImageList([full("/a", {"k": [1]}), full("/b", {"k": 1})], validate=False)
    assert loose.filter_zarr_urls(None, {"k": [1]}) == ["/b"]
    # filter values are scalars (validate_filters): a list value is refused
    with pytest.raises(FilterError, match=r"attribute_filters\['k'\]"):
        loose.filter_zarr_urls(None, {"k": [[1]]})
    trusted = ImageList.trusted([full("/a", {"k": [1]}), full("/b", {"k": 1})])
    assert trusted.filter_zarr_urls({}, {"k": [1]}) == ["/b"]


@given(attribute_updates, image_types)
def test_update_fast_path_agrees_with_pydantic(attrs: dict, types: dict) -> None:
    images = ImageList([img("/a", well="A01")])
    images.update("/a", attributes=attrs, types=types)
    slow = ImageList([img("/a", well="A01")])
    # a non-dict mapping always goes through pydantic validation
    slow.update("/a", attributes=MappingProxyType(attrs), types=MappingProxyType(types))
    assert images == slow
    stored = images["/a"]["attributes"]
    assert [type(v) for v in stored.values()] == [
        type(v) for v in slow["/a"]["attributes"].values()
    ]


class StrSubclass(str):
    """A str subclass: pydantic turns it into a plain str."""


_messy_urls = st.sampled_from(
    ["/a", "/a/", " /a", "//a", "/a/../b", "rel", "s3://b/k", "s3://b/k/", "", 1]
)
_messy_keys = st.sampled_from(["k", " k", "", "j", StrSubclass("s")])
_messy_values = st.sampled_from(
    [1, 1.5, "x", True, None, [1], b"raw", StrSubclass("v"), float("nan")]
)
_messy_images = st.fixed_dictionaries(
    {"zarr_url": _messy_urls},
    optional={
        "origin": _messy_urls | st.none(),
        "attributes": st.dictionaries(_messy_keys, _messy_values, max_size=3)
        | st.none(),
        "types": st.dictionaries(_messy_keys, st.sampled_from([True, 0, "yes", "x"]))
        | st.none(),
        "extra": st.just("dropped"),
    },
)


@given(_messy_images)
def test_validation_fast_path_agrees_with_the_model(raw: dict) -> None:
    try:
        expected = SingleImage.model_validate(raw).model_dump()
    except ValidationError:
        with pytest.raises(ValidationError):
            ImageList([raw])
        return
    stored = ImageList([raw])[expected["zarr_url"]]
    assert repr(stored) == repr(expected)  # same values, same types, nan-safe
    for field in ("attributes", "types"):
        assert [(type(k), type(v)) for k, v in stored[field].items()] == [
            (type(k), type(v)) for k, v in expected[field].items()
        ]


def test_filter_reads_filters_as_run_job_does() -> None:
    # Issue 13: {"3D": "true"} used to be compared raw here (no image matched)
    # while run_job read it as True.
    images = ImageList([full("/a", {}, {"3D": True}), full("/b", {}, {"3D": False})])
    assert images.filter_zarr_urls({"3D": "true"}) == ["/a"]
    assert [i["zarr_url"] for i in images.filter({" 3D": "false"})] == ["/b"]


@pytest.mark.parametrize(
    ("types", "attributes"),
    [(None, {"w": None}), (None, {"w": [math.nan]}), ({"3D": "perhaps"}, None)],
)
def test_bad_filters_raise_filter_error(types: object, attributes: object) -> None:
    # Issue 13: {"w": None} escaped as a raw TypeError.
    images = ImageList([full("/a", {"w": 1}, {})])
    with pytest.raises(FilterError):
        images.filter(types, attributes)  # type: ignore[arg-type]
    with pytest.raises(FilterError):
        images.filter_zarr_urls(types, attributes)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_attributes_refused_on_every_path(bad: float) -> None:
    images = ImageList([full("/a", {"w": 1}, {})])
    with pytest.raises(ValidationError, match="finite"):
        images.update("/a", attributes={"w": bad})
    with pytest.raises(ValidationError, match="finite"):
        images.add(full("/b", {"w": bad}, {}))
    with pytest.raises(ValidationError, match="finite"):
        ImageList([full("/c", {"w": bad}, {})])
    assert images.to_list() == [full("/a", {"w": 1}, {})]
