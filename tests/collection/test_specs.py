"""Validation of package names, versions, extras, pins, filenames and paths."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from fractal_core.collection import InvalidCollectionRequest
from fractal_core.collection import parse_pixi_archive_name
from fractal_core.collection import parse_wheel_name
from fractal_core.collection import validate_package_name
from fractal_core.collection.specs import task_group_path
from fractal_core.collection.specs import validate_extras
from fractal_core.collection.specs import validate_pins
from fractal_core.collection.specs import validate_python_version
from fractal_core.collection.specs import validate_version


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("FrIeNdLy-._.-bArD", "friendly-bard"),
        ("fractal_tasks_core", "fractal-tasks-core"),
        ("  Pkg.Name ", "pkg-name"),
    ],
)
def test_package_name_canonical(raw: str, canonical: str) -> None:
    assert validate_package_name(raw) == canonical


@pytest.mark.parametrize(
    "bad", ["", "   ", "a b", "../x", "pkg==1.0", "pkg[extra]", "x;rm -rf /", "-x"]
)
def test_package_name_rejected(bad: str) -> None:
    with pytest.raises(InvalidCollectionRequest, match="package") as info:
        validate_package_name(bad)
    assert repr(bad) in str(info.value)


name_strategy = st.from_regex(
    r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True
)


@given(name_strategy)
def test_package_name_matches_packaging(name: str) -> None:
    assert validate_package_name(name) == canonicalize_name(name)
    assert validate_package_name(validate_package_name(name)) == canonicalize_name(name)


@pytest.mark.parametrize("bad", ["abc", "1..2", "", "1.0 ; rm", "../1"])
def test_version_rejected(bad: str) -> None:
    with pytest.raises(InvalidCollectionRequest, match="version"):
        validate_version(bad)


def test_extras() -> None:
    assert validate_extras("a, b") == "a,b"
    assert validate_extras(None) is None
    for bad in ("a;b", "[x]", "", "a b"):
        with pytest.raises(InvalidCollectionRequest, match="package_extras"):
            validate_extras(bad)


def test_pins_allow_extras_in_names() -> None:
    """FOLLOW 8.5: `dask[distributed]` is a valid pinned name."""
    pins = {"dask[distributed]": "2024.1.0", "numpy": "1.26.4"}
    assert validate_pins(pins, field="pre") == [
        "dask[distributed]==2024.1.0",
        "numpy==1.26.4",
    ]
    assert validate_pins(None, field="pre") == []


@pytest.mark.parametrize(
    ("pins", "fragment"),
    [
        ({"a b": "1.0"}, "'a b'"),
        ({"x;rm": "1.0"}, "'x;rm'"),
        ({"numpy": "not a version"}, "not a version"),
        ({"numpy>=1": "1.0"}, "numpy>=1"),
    ],
)
def test_pins_rejected(pins: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidCollectionRequest, match="pinned") as info:
        validate_pins(pins, field="pinned_package_versions_post")
    assert fragment in str(info.value)


def test_python_version() -> None:
    assert validate_python_version("3.11") == "3.11"
    assert validate_python_version("3.15") == "3.15"
    with pytest.raises(InvalidCollectionRequest, match="python_version"):
        validate_python_version("3.8")


def test_wheel_name_non_canonical() -> None:
    name = parse_wheel_name("FrAcTaL_TaSkS_NoN_CaNoNiCaL-0.0.1-py3-none-any.whl")
    assert (name.pkg_name, name.version) == ("fractal-tasks-non-canonical", "0.0.1")


@pytest.mark.parametrize(
    "bad",
    [
        "something",
        "something.whl",
        "something;rm /invalid/path.whl",
        "a/b-1.0-py3-none-any.whl",
        "..",
        "pkg-1.0-py3-none-any (2).whl",
        "pkg-notaversion-py3-none-any.whl",
    ],
)
def test_wheel_name_rejected(bad: str) -> None:
    with pytest.raises(InvalidCollectionRequest, match="wheel_filename"):
        parse_wheel_name(bad)


def test_pixi_archive_names() -> None:
    a = parse_pixi_archive_name("My_Nice_Package-0.1.2.tar.gz")
    assert (a.pkg_name, a.version) == ("my-nice-package", "0.1.2")
    b = parse_pixi_archive_name("pkg-1.0rc1.tar.gz")
    assert b.version == "1.0rc1"
    for bad in (
        "too-many-hyphens.tar.gz",
        "pkg-1.0.zip",
        "nohyphen.tar.gz",
        "x/p-1.tar.gz",
    ):
        with pytest.raises(InvalidCollectionRequest, match="tar_gz_filename"):
            parse_pixi_archive_name(bad)


def test_task_group_path() -> None:
    assert task_group_path("/base", 3, "pkg", "1.0") == "/base/3/pkg/1.0"
    assert task_group_path("/base/", None, "pkg", "1.0") == "/base/pkg/1.0"
    for kwargs in (
        {"pkg_name": "..", "version": "1"},
        {"pkg_name": "pkg", "version": "../../etc"},
        {"pkg_name": "a/b", "version": "1"},
    ):
        with pytest.raises(InvalidCollectionRequest, match="outside base_dir"):
            task_group_path("/base", 1, **kwargs)
    with pytest.raises(InvalidCollectionRequest, match="base_dir"):
        task_group_path("/base/../etc", 1, "pkg", "1")
    with pytest.raises(InvalidCollectionRequest, match="base_dir"):
        task_group_path("relative", 1, "pkg", "1")


@given(name_strategy, st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True))
def test_task_group_path_always_inside_base(name: str, version: str) -> None:
    path = task_group_path("/base", 1, validate_package_name(name), version)
    assert posixpath.commonpath(["/base", path]) == "/base"
    assert path.startswith("/base/1/")
