"""Constrained strings and string tools (reference cases plus 2.18+ rules)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import ValidationError

from fractal_core.types import AbsolutePathStr
from fractal_core.types import HttpUrlStr
from fractal_core.types import NonEmptyStr
from fractal_core.types import SafeNonEmptyStr
from fractal_core.types import SafeRelativePathStr
from fractal_core.types import interpret_as_bool
from fractal_core.types import normalize_package_name
from fractal_core.types import sanitize_string
from fractal_core.types import val_absolute_path
from fractal_core.types import validate_cmd
from fractal_core.types.strings import NOT_ALLOWED_FOR_COMMANDS
from fractal_core.types.strings import SPECIAL_CHARACTERS


class Names(BaseModel):
    name: NonEmptyStr = None  # type: ignore[assignment]  # absent ok, null not
    path: AbsolutePathStr = None  # type: ignore[assignment]
    url: HttpUrlStr = None  # type: ignore[assignment]
    safe: SafeNonEmptyStr = None  # type: ignore[assignment]
    rel: SafeRelativePathStr = None  # type: ignore[assignment]


def test_non_empty_str_strips_and_rejects_blank() -> None:
    assert Names(name="  abc ").name == "abc"
    assert Names(name=b"bytes").name == "bytes"  # lax mode
    for bad in ["", "   ", None, 1]:
        with pytest.raises(ValidationError):
            Names(name=bad)


def test_absent_is_none_but_explicit_none_fails() -> None:
    assert Names().name is None
    with pytest.raises(ValidationError):
        Names(name=None)


def test_absolute_path() -> None:
    assert val_absolute_path("/path") == "/path"
    with pytest.raises(ValueError, match="must be an absolute path"):
        val_absolute_path("non/absolute/path")
    with pytest.raises(ValueError, match="must be an absolute path"):
        val_absolute_path("   ")
    with pytest.raises(ValidationError, match="string_too_short"):
        Names(path="   ")
    with pytest.raises(ValidationError, match="must be an absolute path"):
        Names(path="rel/x")
    assert Names(path=" /a//b/./c/ ").path == "/a/b/c"
    assert Names(path="//a/b").path == "/a/b"


@pytest.mark.parametrize("bad", ["/a/../b", "/..", "/a/b/..", "/../x"])
def test_absolute_path_rejects_dotdot_naming_field_and_value(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Names(path=bad)
    message = str(info.value)
    assert "path" in message
    assert bad in message
    assert "/../" in message


def test_dotdot_inside_a_name_is_not_a_component() -> None:
    assert Names(path="/a/..b/c..").path == "/a/..b/c.."


def test_http_url_keeps_original_string() -> None:
    assert Names(url=" https://example.org/a ").url == "https://example.org/a"
    for bad in ["not-an-url", "ftp://example.org", ""]:
        with pytest.raises(ValidationError):
            Names(url=bad)


def test_safe_strings() -> None:
    assert Names(safe="my task 1.0-x_y").safe == "my task 1.0-x_y"
    assert Names(rel="a/./b/").rel == "a/b"
    for bad in ["a;b", "x$", "a/b"]:
        with pytest.raises(ValidationError):
            Names(safe=bad)
    for bad in ["/abs", "a/../b", "..", "a;b"]:
        with pytest.raises(ValidationError):
            Names(rel=bad)


def test_sanitize_string() -> None:
    for char in SPECIAL_CHARACTERS:
        assert sanitize_string(char) == "_"
    assert sanitize_string("/some (rm) \t path *!") == "_some__rm____path___"


@given(st.text())
def test_sanitize_string_is_one_for_one(value: str) -> None:
    result = sanitize_string(value)
    assert len(result) == len(value.lower())
    assert not set(result) & (set(SPECIAL_CHARACTERS) - {"_"})


def test_validate_cmd() -> None:
    assert len(NOT_ALLOWED_FOR_COMMANDS) == 18
    for char in NOT_ALLOWED_FOR_COMMANDS:
        with pytest.raises(ValueError):
            validate_cmd(f"abc{char}def")
        validate_cmd(f"abc{char}def", allow_char=f"xy{char}z")
    with pytest.raises(ValueError, match="MyAttribute must not contain"):
        validate_cmd("; rm", attribute_name="MyAttribute")
    with pytest.raises(ValueError, match="is not a string"):
        validate_cmd(["ls"])  # type: ignore[arg-type]
    validate_cmd("python3 '/a b/x.py' --x=1,2 ~user %@^+")


def test_interpret_as_bool() -> None:
    assert interpret_as_bool(True) is True
    assert interpret_as_bool(False) is False
    assert interpret_as_bool("tRUe") is True
    assert interpret_as_bool("fALSe") is False
    with pytest.raises(ValueError, match="String must be 'true' or 'false'"):
        interpret_as_bool("Tru")
    with pytest.raises(TypeError, match="Expected bool or str"):
        interpret_as_bool(None)  # type: ignore[arg-type]


def test_normalize_package_name() -> None:
    assert normalize_package_name("FrIeNdLy-._.-bArD") == "friendly-bard"
    assert normalize_package_name("fractal_tasks_core") == "fractal-tasks-core"


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1))
def test_normalize_package_name_is_idempotent(name: str) -> None:
    once = normalize_package_name(name)
    assert normalize_package_name(once) == once
    assert "_" not in once and "." not in once and once == once.lower()
