"""Pure helpers: reference cases, FOLLOW changes, and hypothesis properties."""

from __future__ import annotations

import copy
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.errors import FractalCoreError
from fractal_core.images import IncompatibleTypeFiltersError
from fractal_core.images import SingleImage
from fractal_core.images import aggregate_attributes
from fractal_core.images import aggregate_types
from fractal_core.images import filter_image_list
from fractal_core.images import find_image_by_zarr_url
from fractal_core.images import match_filter
from fractal_core.images import merge_type_filters
from tests.strategies import attribute_filters
from tests.strategies import image_lists
from tests.strategies import type_filters


def plate_images() -> list[dict]:
    """The reference's six-image plate example, as stored dicts."""
    specs = [
        ("/tmp/plate.zarr/A/01/0", {"3D": True}, "plate.zarr", "A01"),
        ("/tmp/plate.zarr/A/02/0", {"3D": True}, "plate.zarr", "A02"),
        (
            "/tmp/plate.zarr/A/01/0_corr",
            {"3D": True, "illumination_correction": True},
            "plate.zarr",
            "A01",
        ),
        (
            "/tmp/plate.zarr/A/02/0_corr",
            {"3D": True, "illumination_correction": True},
            "plate.zarr",
            "A02",
        ),
        (
            "/tmp/plate_2d.zarr/A/01/0_corr",
            {"3D": False, "illumination_correction": True},
            "plate_2d.zarr",
            "A01",
        ),
        (
            "/tmp/plate_2d.zarr/A/02/0_corr",
            {"3D": False, "illumination_correction": True},
            "plate_2d.zarr",
            "A02",
        ),
    ]
    return [
        SingleImage(
            zarr_url=url, types=types, attributes={"plate": plate, "well": well}
        ).model_dump()
        for url, types, plate, well in specs
    ]


def test_find_image_by_zarr_url() -> None:
    images = [{"zarr_url": "/x"}, {"zarr_url": "/y"}, {"zarr_url": "/z"}]
    for index, url in enumerate(["/x", "/y", "/z"]):
        found = find_image_by_zarr_url(zarr_url=url, images=images)
        assert found == {"index": index, "image": {"zarr_url": url}}
        assert found is not None and found["image"] is not images[index]
    assert find_image_by_zarr_url(zarr_url="/k", images=images) is None
    assert find_image_by_zarr_url(zarr_url="/x/", images=images) is None
    with pytest.raises(KeyError):
        find_image_by_zarr_url(zarr_url="/k", images=[{"no_url": 1}])


def test_find_returns_first_match_with_shared_nested_dicts() -> None:
    images = [{"zarr_url": "/a", "n": 1, "attributes": {}}, {"zarr_url": "/a", "n": 2}]
    found = find_image_by_zarr_url(zarr_url="/a", images=images)
    assert found is not None and found["image"]["n"] == 1
    assert found["image"]["attributes"] is images[0]["attributes"]


def test_match_filter() -> None:
    assert match_filter(image=..., type_filters={}, attribute_filters={})  # type: ignore[arg-type]
    image = {"types": {"a": True, "b": False}, "attributes": {"a": 1, "b": 2}}

    def match(types: dict, attrs: dict) -> bool:
        return match_filter(image=image, type_filters=types, attribute_filters=attrs)

    assert match({"a": True}, {})
    assert not match({"a": False}, {})
    assert not match({"b": True}, {})
    assert match({"b": False}, {})
    assert not match({"c": True}, {})
    assert match({"c": False}, {})  # missing type counts as False
    assert match({"a": True, "b": False, "c": False}, {})
    assert not match({"a": False, "b": False, "c": False}, {})
    assert not match({"a": True, "b": True, "c": False}, {})
    assert match({}, {"a": [1]})
    assert match({}, {"a": [1], "b": [1, 2]})
    assert not match({}, {"a": [0], "b": [1, 2]})
    assert not match({}, {"missing": ["whatever"]})
    assert match({"a": True}, {"a": [1]})
    assert not match({"a": False}, {"a": [1]})
    assert not match({"a": True}, {"a": [0]})


def test_match_filter_numeric_equivalence_is_kept() -> None:
    """Weak point 6, decided: Python equality, so 1 == 1.0 == True match."""
    for value in [1, 1.0, True]:
        image = {"types": {}, "attributes": {"a": value}}
        assert match_filter(image=image, type_filters={}, attribute_filters={"a": [1]})
    image = {"types": {}, "attributes": {"a": "1"}}
    assert not match_filter(image=image, type_filters={}, attribute_filters={"a": [1]})


def test_filter_image_list() -> None:
    images = [
        {"types": {"a": True}, "attributes": {"a": 1, "b": 2}},
        {"types": {"a": True}, "attributes": {"a": 2, "b": 2}},
        {"types": {"a": False}, "attributes": {"a": 1, "b": 1}},
        {"types": {}, "attributes": {"a": 1, "b": 1}},
        {"types": {}, "attributes": {}},
    ]
    for kwargs in [{}, {"type_filters": {}}, {"attribute_filters": {}}]:
        result = filter_image_list(images, **kwargs)
        assert result == images
        assert result is not images  # weak point 10: always a new list
    assert len(filter_image_list(images, type_filters={"a": True})) == 2
    assert len(filter_image_list(images, type_filters={"a": False})) == 3
    assert len(filter_image_list(images, type_filters={"b": True})) == 0
    assert len(filter_image_list(images, type_filters={"b": False})) == 5
    assert len(filter_image_list(images, attribute_filters={"a": [1]})) == 3
    assert len(filter_image_list(images, attribute_filters={"a": [1, 2]})) == 4
    both = filter_image_list(
        images, type_filters={"a": True}, attribute_filters={"a": [1]}
    )
    assert both == [images[0]]
    assert both[0] is not images[0]
    none = filter_image_list(
        images, type_filters={"a": True}, attribute_filters={"a": [1, 2], "b": [-1]}
    )
    assert none == []


@pytest.mark.parametrize(
    ("attrs", "types", "expected"),
    [
        ({}, {}, 6),
        ({"missing_key": ["whatever"]}, {}, 0),
        ({}, {"missing_key": True}, 0),
        ({}, {"missing_key": False}, 6),
        ({"plate": ["missing_plate.zarr"]}, {}, 0),
        ({}, {"3D": True}, 4),
        ({}, {"3D": False}, 2),
        ({}, {"3D": True, "illumination_correction": True}, 2),
        ({"plate": ["plate.zarr"]}, {"3D": True, "illumination_correction": True}, 2),
        ({"plate": ["plate_2d.zarr"]}, {"3D": True}, 0),
        ({"plate": ["plate.zarr"], "well": ["A01"]}, {"3D": True}, 2),
        ({"well": ["A01"]}, {}, 3),
    ],
)
def test_filter_plate(attrs: dict, types: dict, expected: int) -> None:
    result = filter_image_list(
        plate_images(), type_filters=types, attribute_filters=attrs
    )
    assert len(result) == expected


@given(image_lists(), type_filters, attribute_filters)
def test_filter_properties(images: list, types: dict, attrs: dict) -> None:
    before = copy.deepcopy(images)
    result = filter_image_list(images, type_filters=types, attribute_filters=attrs)
    assert images == before  # inputs untouched
    expected = [
        img
        for img in images
        if all(img["types"].get(k, False) == v for k, v in types.items())
        and all(img["attributes"].get(k) in vals for k, vals in attrs.items())
    ]
    assert result == expected
    # a type filter and its negation partition the list
    for key, value in types.items():
        yes = filter_image_list(images, type_filters={key: value})
        no = filter_image_list(images, type_filters={key: not value})
        assert len(yes) + len(no) == len(images)
    # filtering twice is filtering once
    assert filter_image_list(result, types, attrs) == result


def test_merge_type_filters() -> None:
    cases = [
        ({"key1": False, "key2": True}, {"key1": False, "key3": True}),
        ({}, {"key1": False, "key3": True}),
        ({"key1": False, "key2": True}, {}),
    ]
    for task, wftask in cases:
        task_before, wftask_before = dict(task), dict(wftask)
        merged = merge_type_filters(task_input_types=task, wftask_type_filters=wftask)
        assert merged == {**task, **wftask}
        assert merged is not task and merged is not wftask
        assert task == task_before and wftask == wftask_before  # FOLLOW 1.4


def test_merge_type_filters_conflict() -> None:
    task = {"key1": False, "key2": True}
    with pytest.raises(IncompatibleTypeFiltersError, match="Cannot merge") as info:
        merge_type_filters(task_input_types=task, wftask_type_filters={"key1": True})
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FractalCoreError)
    assert "key1" in str(info.value)
    assert task == {"key1": False, "key2": True}


@given(type_filters, type_filters)
def test_merge_type_filters_properties(task: dict, wftask: dict) -> None:
    task_before, wftask_before = dict(task), dict(wftask)
    compatible = all(task[k] == v for k, v in wftask.items() if k in task)
    if compatible:
        merged = merge_type_filters(task_input_types=task, wftask_type_filters=wftask)
        assert merged == {**task, **wftask}
        assert list(merged)[: len(task)] == list(task)
        assert merged == merge_type_filters(
            task_input_types=wftask, wftask_type_filters=task
        )
    else:
        with pytest.raises(IncompatibleTypeFiltersError):
            merge_type_filters(task_input_types=task, wftask_type_filters=wftask)
    assert task == task_before and wftask == wftask_before


def test_aggregate_attributes() -> None:
    assert aggregate_attributes([]) == {}
    images = [
        {"attributes": {"well": "B01", "z": 2}},
        {"attributes": {"well": "A01"}},
        {"attributes": {"z": 1, "well": "A01", "t": True}},
    ]
    assert aggregate_attributes(images) == {
        "well": ["A01", "B01"],
        "z": [1, 2],
        "t": [True],
    }
    assert list(aggregate_attributes(images)) == ["well", "z", "t"]


def test_aggregate_attributes_mixed_types(caplog: pytest.LogCaptureFixture) -> None:
    """FOLLOW 1.5: no TypeError; distinct values in first-appearance order."""
    images = [
        {"attributes": {"k": 1, "ok": 2}},
        {"attributes": {"k": "a", "ok": 1}},
        {"attributes": {"k": 1}},
    ]
    with caplog.at_level(logging.WARNING):
        result = aggregate_attributes(images)
    assert result == {"k": [1, "a"], "ok": [1, 2]}
    assert "k" in caplog.text


def test_aggregate_attributes_numeric_collapse() -> None:
    images = [{"attributes": {"k": 1}}, {"attributes": {"k": 1.0}}]
    assert aggregate_attributes(images) == {"k": [1]}


@given(image_lists())
def test_aggregate_properties(images: list) -> None:
    aggregated = aggregate_attributes(images)
    for image in images:
        for key, value in image["attributes"].items():
            assert value in aggregated[key]
    for values in aggregated.values():
        assert len(values) == len(set(values))
    types = aggregate_types(images)
    assert types == sorted({k for img in images for k in img["types"]})


def test_aggregate_types_sorted_and_counts_false() -> None:
    images = [{"types": {"b": True, "a": False}}, {"types": {"c": True, "a": True}}]
    assert aggregate_types(images) == ["a", "b", "c"]
    assert aggregate_types([]) == []


@given(st.lists(st.sampled_from(["x", "y", "z"])))
def test_find_image_agrees_with_index(urls: list[str]) -> None:
    images = [{"zarr_url": u, "pos": i} for i, u in enumerate(urls)]
    for url in ["x", "y", "z"]:
        found = find_image_by_zarr_url(images=images, zarr_url=url)
        if url in urls:
            assert found is not None and found["index"] == urls.index(url)
        else:
            assert found is None
