"""Zarr URL normalisation, S3 support and containment (2.20+ behaviour)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import TypeAdapter
from pydantic import ValidationError

from fractal_core.types import S3PathStr
from fractal_core.types import ZarrDirStr
from fractal_core.types import ZarrUrlStr
from fractal_core.types import is_url_inside
from fractal_core.types import join_url
from fractal_core.types import normalize_url
from tests.strategies import local_zarr_urls
from tests.strategies import path_segments
from tests.strategies import s3_zarr_urls
from tests.strategies import zarr_urls


class Urls(BaseModel):
    zarr_url: ZarrUrlStr = None  # type: ignore[assignment]
    zarr_dir: ZarrDirStr = None  # type: ignore[assignment]
    project_dir: S3PathStr = None  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("given_url", "stored"),
    [
        ("/remove/slash/", "/remove/slash"),
        ("/y///", "/y"),
        ("  /a//b/./c/ ", "/a/b/c"),
        ("/", "/"),
        ("///", "/"),
        ("//a/b", "/a/b"),  # deliberate: 2.17 kept the two slashes
        ("  / foo bar  ", "/ foo bar"),
        ("/#special/chars", "/#special/chars"),
        ("s3://bucket/key/", "s3://bucket/key"),
        ("s3://foo", "s3://foo"),
        ("s3://bucket//a//", "s3://bucket//a"),  # S3 keys keep inner slashes
    ],
)
def test_normalisation_table(given_url: str, stored: str) -> None:
    assert Urls(zarr_url=given_url).zarr_url == stored
    assert Urls(zarr_dir=given_url).zarr_dir == stored


@pytest.mark.parametrize(
    "bad",
    [
        "x",
        "relative/path",
        "http://example.com",
        "S3://b/k",
        "s3/foo",
        "s3:/x",
        "s3bucket",
        "~/x",
        "",
        "   ",
    ],
)
def test_invalid_urls(bad: str) -> None:
    with pytest.raises(ValidationError):
        Urls(zarr_url=bad)
    with pytest.raises(ValidationError):
        Urls(zarr_dir=bad)


def test_invalid_url_message_keyword() -> None:
    for bad in ["s3/foo", "https://foo.bar"]:
        with pytest.raises(ValueError, match="URLs must begin with '/' or 's3://'"):
            normalize_url(bad)
    with pytest.raises(ValueError, match="bucket"):
        normalize_url("s3://")


@pytest.mark.parametrize(
    "bad", ["/a/../b", "/a/..", "s3://bucket/../x", "s3://bucket/a/..", "/.."]
)
def test_dotdot_rejected_naming_field_and_value(bad: str) -> None:
    for field in ("zarr_url", "zarr_dir"):
        with pytest.raises(ValidationError) as info:
            Urls(**{field: bad})
        assert field in str(info.value)
        assert bad in str(info.value)


def test_explicit_none_fails() -> None:
    with pytest.raises(ValidationError):
        Urls(zarr_url=None)


@given(zarr_urls)
def test_normalize_url_idempotent_on_valid_urls(url: str) -> None:
    assert normalize_url(url) == url
    assert normalize_url(normalize_url(url + "/")) == url


@given(st.lists(st.sampled_from(["a", "b", ".", "", "c.zarr"]), max_size=6))
def test_normalize_url_local_agrees_with_normpath(parts: list[str]) -> None:
    raw = "/" + "/".join(parts) + "/"
    once = normalize_url(raw)
    assert normalize_url(once) == once
    assert once == os.path.normpath(raw).replace("//", "/", 1) or once == "/"
    assert not once.endswith("/") or once == "/"


def test_join_url() -> None:
    assert join_url("/a/b", "c") == "/a/b/c"
    assert join_url("/a/b", "c", "d") == "/a/b/c/d"
    assert join_url("/a/b/", "c") == "/a/b/c"
    assert join_url("/a//b", "c") == "/a/b/c"
    assert join_url("s3://bucket/key", "sub") == "s3://bucket/key/sub"
    assert join_url("s3://bucket/key", "sub", "file") == "s3://bucket/key/sub/file"
    assert join_url("s3://bucket", "key") == "s3://bucket/key"
    assert join_url("s3://bucket/a/b/", "c/") == "s3://bucket/a/b/c"


@pytest.mark.parametrize("part", ["/etc", "..", "a/../../b"])
def test_join_url_refuses_escapes(part: str) -> None:
    with pytest.raises(ValueError, match=r"absolute|\.\."):
        join_url("/base", part)


@given(zarr_urls, st.lists(path_segments, min_size=1, max_size=3))
def test_joined_url_is_inside_its_base(base: str, parts: list[str]) -> None:
    joined = join_url(base, *parts)
    assert joined.startswith("s3://") == base.startswith("s3://")
    assert is_url_inside(joined, base)
    assert not is_url_inside(base, joined)


def test_is_url_inside_local() -> None:
    assert is_url_inside("/a/b/c", "/a/b")
    assert is_url_inside("/a/b/c", "/a/b/")
    assert is_url_inside("/a", "/")
    assert not is_url_inside("/a/b", "/a/b")  # equal is not inside
    assert not is_url_inside("/a/bc", "/a/b")
    assert not is_url_inside("/data/ab/img", "/data/a")  # weak point 5
    assert not is_url_inside("/x/y", "/a/b")
    assert not is_url_inside("/a", "/a/b")


def test_is_url_inside_s3_and_mixed() -> None:
    assert is_url_inside("s3://bucket/key/sub", "s3://bucket/key")
    assert is_url_inside("s3://bucket/key", "s3://bucket")
    assert not is_url_inside("s3://bucket/key", "s3://bucket/key")
    assert not is_url_inside("s3://bucket/key2", "s3://bucket/key")
    assert not is_url_inside("s3://other/key", "s3://bucket/key")
    assert not is_url_inside("s3://bucket", "s3://bucket/key")
    assert not is_url_inside("/a/b", "s3://a")
    assert not is_url_inside("s3://a/b", "/a")
    assert not is_url_inside("s3://a/b", "/")


@given(local_zarr_urls, s3_zarr_urls)
def test_mixed_schemes_never_inside(local: str, s3: str) -> None:
    assert not is_url_inside(local, s3)
    assert not is_url_inside(s3, local)


@given(zarr_urls, zarr_urls)
def test_inside_matches_component_prefix(url: str, directory: str) -> None:
    expected = (
        url.startswith("s3://") == directory.startswith("s3://")
        and url != directory
        and url.startswith(directory.rstrip("/") + "/")
    )
    assert is_url_inside(url, directory) == expected


def test_s3_path_str() -> None:
    assert Urls(project_dir="s3://my-bucket/some/key").project_dir == (
        "s3://my-bucket/some/key"
    )
    for bad in [
        "s3://my-bucket",
        "/local",
        "s3://ab/key",
        "s3://My-Bucket/key",
        "s3://a..b/key",
        "s3://192.168.1.1/key",
        "s3://xn--bucket/key",
        "s3://bucket-s3alias/key",
        "s3://bucket/" + "k" * 1025,
    ]:
        with pytest.raises(ValidationError):
            Urls(project_dir=bad)


# --- control characters (issue 13: NUL bytes were accepted) -----------------

_CONTROL = [chr(code) for code in range(0x20)] + ["\x7f"]


@given(
    st.sampled_from(["/data/", "s3://bucket/"]),
    st.text(alphabet="abc_/", max_size=6),
    st.sampled_from(_CONTROL),
    st.text(alphabet="abc_", min_size=1, max_size=6),
)
def test_control_characters_inside_urls_are_refused(
    base: str, head: str, control: str, tail: str
) -> None:
    with pytest.raises(ValueError, match="control characters"):
        normalize_url(base + head + control + tail)


def test_control_character_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="zarr_dir must not contain control"):
        TypeAdapter(ZarrDirStr).validate_python("/data/a\x00b")
    with pytest.raises(ValidationError, match="zarr URL must not contain control"):
        TypeAdapter(ZarrUrlStr).validate_python("/data/a\x00b")
    with pytest.raises(ValueError, match=r"origin .*'\\x00' at index 2"):
        normalize_url("/a\x00", field="origin")


def test_unicode_printable_and_surrounding_whitespace_still_accepted() -> None:
    assert normalize_url(" /data/é b\u00a0c/\t") == "/data/é b\u00a0c"
