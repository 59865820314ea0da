"""Key validation, dict aliases, workflow-task arguments and unique lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import ValidationError

from fractal_core.types import DictStrAny
from fractal_core.types import DictStrStr
from fractal_core.types import ListUniqueAbsolutePathStr
from fractal_core.types import ListUniqueNonEmptyString
from fractal_core.types import ListUniqueNonNegativeInt
from fractal_core.types import TypeFilters
from fractal_core.types import WorkflowTaskArgument
from fractal_core.types import valdict_keys


class Dicts(BaseModel):
    any_: DictStrAny = None  # type: ignore[assignment]
    str_: DictStrStr = None  # type: ignore[assignment]
    input_types: TypeFilters = None  # type: ignore[assignment]
    args: WorkflowTaskArgument = None  # type: ignore[assignment]


class Lists(BaseModel):
    names: ListUniqueNonEmptyString = None  # type: ignore[assignment]
    ints: ListUniqueNonNegativeInt = None  # type: ignore[assignment]
    paths: ListUniqueAbsolutePathStr = None  # type: ignore[assignment]


def test_dictionary_keys_validation() -> None:
    for bad in [{"": True}, {"    ": True}, {"a": True, "  a   ": False}]:
        with pytest.raises(ValidationError):
            Dicts(input_types=bad)
    assert Dicts(input_types={"    a": True}).input_types == {"a": True}
    with pytest.raises(ValidationError):
        Dicts(input_types=None)
    for bad_key in [1, True]:
        with pytest.raises(ValidationError):
            Dicts(any_={bad_key: 1})


def test_valdict_keys_preserves_order_and_input() -> None:
    original = {" b": 1, "a": 2, "c ": 3}
    result = valdict_keys(original)
    assert list(result) == ["b", "a", "c"]  # weak point 1: order kept
    assert original == {" b": 1, "a": 2, "c ": 3}  # not mutated
    assert result is not original


@given(st.dictionaries(st.text(min_size=1), st.integers()))
def test_valdict_keys_property(d: dict[str, int]) -> None:
    stripped = [k.strip() for k in d]
    if "" in stripped or len(set(stripped)) != len(stripped):
        with pytest.raises(ValueError):
            valdict_keys(d)
    else:
        result = valdict_keys(d)
        assert list(result) == stripped
        assert list(result.values()) == list(d.values())


def test_type_filters_lax_bool() -> None:
    assert Dicts(input_types={"a": "yes", "b": 0, "c": "off"}).input_types == {
        "a": True,
        "b": False,
        "c": False,
    }
    for bad in ["x", None, 2]:
        with pytest.raises(ValidationError):
            Dicts(input_types={"a": bad})


def test_dict_str_str() -> None:
    assert Dicts(str_={" k ": " v "}).str_ == {"k": "v"}
    for bad in [{"a": 1}, {"a": ""}, {"a": " "}, {"a": None}]:
        with pytest.raises(ValidationError):
            Dicts(str_=bad)


def test_dict_str_any_values_untouched() -> None:
    value = {"x": [1, {"y": None}], " z": lambda: 1}
    result = Dicts(any_=value).any_
    assert result["x"] == [1, {"y": None}]
    assert list(result) == ["x", "z"]


@pytest.mark.parametrize("key", ["zarr_dir", "zarr_url", "zarr_urls", "init_args"])
def test_wft_args_reserved_keys(key: str) -> None:
    for spelled in [key, f" {key}", f"{key}  "]:
        with pytest.raises(ValidationError) as info:
            Dicts(args={spelled: 1, "ok": 2})
        assert "`args` contains the following forbidden keys" in str(info.value)
        assert key in str(info.value)
    assert Dicts(args={"nested": {key: 1}}).args == {"nested": {key: 1}}


def test_unique_lists() -> None:
    assert Lists(names=[" a", "b "]).names == ["a", "b"]
    with pytest.raises(ValidationError, match="List has repetitions"):
        Lists(names=["a", " a"])
    assert Lists(ints=["2", 3]).ints == [2, 3]
    for bad in [[-1], [1, 1], ["1", 1]]:
        with pytest.raises(ValidationError):
            Lists(ints=bad)
    assert Lists(paths=["/a/", "/b"]).paths == ["/a", "/b"]
    # weak point 4: normalised before the uniqueness check
    with pytest.raises(ValidationError, match="List has repetitions"):
        Lists(paths=["/a", "/a/"])
    for bad in [[""], [" "], ["non/absolute"], ["/a/../b"]]:
        with pytest.raises(ValidationError):
            Lists(paths=bad)
