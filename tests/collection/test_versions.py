"""Choosing a release among the index's versions (pure) and asking the index."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from fractal_core.collection import PackageIndexError
from fractal_core.collection import PackageVersionNotFound
from fractal_core.collection import choose_version
from fractal_core.collection.pypi import resolve_version
from fractal_core.hosts import LocalHost

VERSIONS = ["1.3.9", "1.3.10", "1.30.0", "2.0.0", "2.1.0a1", "1.3", "not-pep440"]


def test_latest_skips_prereleases_and_garbage() -> None:
    assert choose_version("p", VERSIONS, None) == "2.0.0"
    assert choose_version("p", ["1.0a1", "0.9"], None) == "0.9"
    assert choose_version("p", ["1.0a1"], None) == "1.0a1"


def test_exact_version_wins() -> None:
    assert choose_version("p", VERSIONS, "1.3.9") == "1.3.9"
    assert choose_version("p", ["1.3", "1.3.5"], "1.3") == "1.3"


def test_prefix_uses_release_segments_and_version_order() -> None:
    # The reference would pick 1.3.9 (string sort) and consider 1.30.0 (startswith).
    assert choose_version("p", ["1.3.9", "1.3.10", "1.30.0"], "1.3") == "1.3.10"
    with pytest.raises(PackageVersionNotFound, match="No version starting with 2.1"):
        choose_version("p", ["2.0.0", "2.1.0a1"], "2.1")
    assert choose_version("p", ["2.0.0", "2.1.0a1"], "2.1.0a1") == "2.1.0a1"


def test_no_match() -> None:
    with pytest.raises(PackageVersionNotFound, match="9.9.9"):
        choose_version("p", VERSIONS, "9.9.9")
    with pytest.raises(PackageVersionNotFound, match="No valid release"):
        choose_version("p", ["garbage"], None)


versions = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 12), st.integers(0, 12)).map(
        lambda t: ".".join(map(str, t))
    ),
    min_size=1,
    max_size=15,
)


@given(versions, st.one_of(st.none(), st.integers(0, 5).map(str)))
def test_choice_is_listed_and_maximal(listed: list[str], major: str | None) -> None:
    try:
        chosen = choose_version("p", listed, major)
    except PackageVersionNotFound:
        assert major is not None
        assert all(Version(v).release[0] != int(major) for v in listed)
        return
    assert chosen in listed
    pool = [v for v in listed if major is None or Version(v).release[0] == int(major)]
    assert Version(chosen) == max(Version(v) for v in pool)


@pytest.mark.slow
def test_index_unknown_package() -> None:
    with pytest.raises(PackageIndexError, match="fractal-no-such-package-zq9"):
        resolve_version(
            LocalHost(), sys.executable, "fractal-no-such-package-zq9", None
        )


@pytest.mark.slow
def test_index_version_that_does_not_exist() -> None:
    with pytest.raises(PackageVersionNotFound, match="No version starting with 99.99"):
        resolve_version(LocalHost(), sys.executable, "fractal-tasks-core", "99.99")
    assert (
        resolve_version(LocalHost(), sys.executable, "fractal-tasks-core", "1.3")
        == "1.3.4"
    )


def test_reference_rules_reproduce_2_17_0() -> None:
    """The compatibility switch keeps the reference's string-based choices."""
    listed = ["1.3.9", "1.3.10", "1.30.0", "2.1.0a1"]
    ref = {"reference_rules": True}
    assert choose_version("p", listed, None, **ref) == "2.1.0a1"  # pre-release latest
    assert (
        choose_version("p", listed, "1.3", **ref) == "1.30.0"
    )  # startswith + str sort
    assert choose_version("p", listed, "1.3.", **ref) == "1.3.9"
    assert choose_version("p", listed, "1.3.10", **ref) == "1.3.10"
    with pytest.raises(PackageVersionNotFound, match="No version starting with 9"):
        choose_version("p", listed, "9", **ref)
    with pytest.raises(PackageIndexError, match="Cannot find latest version"):
        choose_version("p", [*listed, "garbage"], "1.3.10", **ref)
    with pytest.raises(PackageVersionNotFound, match="No release"):
        choose_version("p", [], None, **ref)
    # The default rules on the same input.
    assert choose_version("p", listed, None) == "1.30.0"
    assert choose_version("p", listed, "1.3") == "1.3.10"
