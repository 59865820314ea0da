"""Image models: defaults, URL normalisation, attribute and type rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import ValidationError

from fractal_core.images import SingleImage
from fractal_core.images import SingleImageBase
from fractal_core.images import SingleImageTaskOutput
from fractal_core.images import SingleImageUpdate

INVALID_VALUES: list[Any] = [
    ["l", "i", "s", "t"],
    {"d": "i", "c": "t"},
    {"s", "e", "t"},
    ("t", "u", "p"),
    bool,
    int,
    lambda x: x,
]


def fails(model: type[BaseModel], **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as info:
        model(**kwargs)
    return str(info.value)


def test_base_defaults_and_required() -> None:
    fails(SingleImageBase)
    image = SingleImageBase(zarr_url="/x")
    assert image.model_dump() == {
        "zarr_url": "/x",
        "origin": None,
        "attributes": {},
        "types": {},
    }
    fails(SingleImageBase, zarr_url="x")
    fails(SingleImageBase, zarr_url=None)
    fails(SingleImageBase, origin="/y")


def test_base_attributes_are_any_but_keys_checked() -> None:
    values = {"null": None, "list": [1], "dict": {"a": 1}, "type": int}
    assert SingleImageBase(zarr_url="/x", attributes=values).attributes == values
    fails(SingleImageBase, zarr_url="/x", attributes={"repeated": 1, " repeated": 2})


def test_origin() -> None:
    assert SingleImage(zarr_url="/x", origin="/y///").origin == "/y"
    assert SingleImage(zarr_url="/x", origin=None).origin is None
    assert SingleImage(zarr_url="/x", origin="/x").origin == "/x"  # in place
    assert SingleImage(zarr_url="/x", origin="s3://foo").origin == "s3://foo"
    for bad in ["y", "s3/foo", "https://foo.bar", ""]:
        fails(SingleImage, zarr_url="/x", origin=bad)


def test_url_normalisation_and_s3() -> None:
    assert SingleImage(zarr_url="/remove/slash/").zarr_url == "/remove/slash"
    assert SingleImage(zarr_url="s3://foo").zarr_url == "s3://foo"
    assert SingleImage(zarr_url="s3://b/plate.zarr/A/01/0/").zarr_url == (
        "s3://b/plate.zarr/A/01/0"
    )
    message = fails(SingleImage, zarr_url="s3/foo")
    assert "URLs must begin with '/' or 's3://'" in message
    assert "URLs must begin" in fails(SingleImage, zarr_url="https://foo.bar")


@pytest.mark.parametrize("model", [SingleImage, SingleImageTaskOutput])
def test_dotdot_rejected_in_zarr_url_and_origin(model: type[BaseModel]) -> None:
    message = fails(model, zarr_url="/data/../etc")
    assert "zarr_url" in message and "/data/../etc" in message
    message = fails(model, zarr_url="/x", origin="/a/../b")
    assert "origin" in message and "/a/../b" in message


@pytest.mark.parametrize("value", ["string", -7, 3.14, True])
def test_single_image_valid_attribute_values(value: Any) -> None:
    assert SingleImage(zarr_url="/xyz", attributes={"key": value}).attributes == {
        "key": value
    }


@pytest.mark.parametrize("value", [*INVALID_VALUES, None])
def test_single_image_invalid_attribute_values(value: Any) -> None:
    fails(SingleImage, zarr_url="/xyz", attributes={"key": value})
    fails(SingleImageUpdate, zarr_url="/xyz", attributes={"key": value})


@pytest.mark.parametrize("value", INVALID_VALUES)
def test_task_output_invalid_attribute_values(value: Any) -> None:
    fails(SingleImageTaskOutput, zarr_url="/x", attributes={"key": value})


def test_task_output_accepts_none() -> None:
    attributes = {"int": 1, "float": 1.2, "string": "abc", "bool": True, "null": None}
    image = SingleImageTaskOutput(zarr_url="/x", attributes=attributes)
    assert image.attributes == attributes
    fails(SingleImageTaskOutput, zarr_url="/x", attributes={"a": 1, " a": 2})


def test_types() -> None:
    assert SingleImage(zarr_url="/x", types={"y": True, "n": False}).types == {
        "y": True,
        "n": False,
    }
    assert SingleImage(zarr_url="/x", types={"a": "yes", "b": 0}).types == {
        "a": True,
        "b": False,
    }
    fails(SingleImage, zarr_url="/x", types={"a": "not a bool"})
    fails(SingleImage, zarr_url="/x", types={"a": True, " a": True})


def test_unknown_keys_dropped() -> None:
    image = SingleImage(zarr_url="/x", something="else")  # type: ignore[call-arg]
    assert "something" not in image.model_dump()


def test_single_image_update() -> None:
    fails(SingleImageUpdate)
    assert SingleImageUpdate(zarr_url="/x").model_dump() == {
        "zarr_url": "/x",
        "attributes": None,
        "types": None,
    }
    fails(SingleImageUpdate, zarr_url="x")
    fails(SingleImageUpdate, zarr_url=None)
    fails(SingleImageUpdate, zarr_url="/x", attributes=None)  # absent ok, null not
    assert SingleImageUpdate(zarr_url="/x", types=None).types is None
    update = SingleImageUpdate(zarr_url="/x", origin="/y")  # type: ignore[call-arg]
    assert "origin" not in update.model_dump()
    fails(SingleImageUpdate, zarr_url="/x", types={"a": "not a bool"})
    fails(SingleImageUpdate, zarr_url="/x", types={"a": True, " a": True})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("model", [SingleImage, SingleImageTaskOutput])
def test_non_finite_attributes_refused(model: type, bad: float) -> None:
    # Issue 13: NaN/inf are not JSON; a task output carrying one is invalid.
    with pytest.raises(ValidationError, match="finite") as info:
        model.model_validate({"zarr_url": "/z/a", "attributes": {"x": bad}})
    assert info.value.errors()[0]["loc"] == ("attributes", "x")
    ok = model.model_validate({"zarr_url": "/z/a", "attributes": {"x": 1e308}})
    assert ok.attributes == {"x": 1e308}
