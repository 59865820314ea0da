"""The single version order: PEP 440 newest first, then unparsable, then None."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion
from packaging.version import Version

from fractal_core.io.versions import sort_versions_newest_first
from fractal_core.io.versions import version_sort_key

pep440 = st.builds(
    lambda parts, pre: ".".join(str(p) for p in parts) + pre,
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc1", ".post1", ".dev3"]),
)
anything = st.one_of(st.none(), pep440, st.text(max_size=8))


def _parsable(value: str | None) -> bool:
    if value is None:
        return False
    try:
        Version(value)
    except InvalidVersion:
        return False
    return True


def test_examples_newest_first() -> None:
    given_versions = ["1.9.0", None, "abc", "1.10.0", "zzz", "0.2.14", "2.0.0a1"]
    assert sort_versions_newest_first(given_versions) == [
        "2.0.0a1",
        "1.10.0",
        "1.9.0",
        "0.2.14",
        "zzz",
        "abc",
        None,
    ]


def test_keys_compare_across_ranks() -> None:
    assert version_sort_key(None) < version_sort_key("not-a-version")
    assert version_sort_key("not-a-version") < version_sort_key("0.0.1")
    assert not version_sort_key(None) < version_sort_key(None)


@given(st.lists(anything, max_size=20))
def test_sorted_ranks_then_order(versions: list[str | None]) -> None:
    ordered = sort_versions_newest_first(versions)
    assert sorted(ordered, key=repr) == sorted(versions, key=repr)
    ranks = [2 if _parsable(v) else (0 if v is None else 1) for v in ordered]
    assert ranks == sorted(ranks, reverse=True)
    parsable = [Version(v) for v in ordered if _parsable(v)]
    assert parsable == sorted(parsable, reverse=True)
    unparsable = [v for v in ordered if v is not None and not _parsable(v)]
    assert unparsable == sorted(unparsable, reverse=True)


@given(anything, anything)
def test_key_is_a_total_order(a: str | None, b: str | None) -> None:
    ka, kb = version_sort_key(a), version_sort_key(b)
    assert (ka < kb) + (kb < ka) + (ka == kb) == 1
