"""The six pure image helpers, side by side with fractal-server 2.17.0."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import strategies as st

from tests.strategies import SMALL_URL_POOL
from tests.strategies import attribute_filters
from tests.strategies import image_lists
from tests.strategies import images
from tests.strategies import type_filters

from .harness import collect
from .harness import compare
from .harness import count_outcomes
from .harness import dumps
from .harness import exact
from .harness import exact_with_messages
from .harness import is_error
from .harness import requests_for
from .sides import Answer
from .sides import ReferenceSide
from .sides import Request

pytestmark = pytest.mark.slow

# Lists that may repeat a zarr_url (first match wins in find_image_by_zarr_url).
_lists_with_repeats = st.lists(images(st.sampled_from(SMALL_URL_POOL)), max_size=6)
_any_image_list = image_lists(max_size=8) | _lists_with_repeats
_optional_type_filters = st.none() | type_filters
_optional_attribute_filters = st.none() | attribute_filters


@pytest.fixture(scope="module")
def drawn_lists() -> list[list[dict]]:
    """Image lists drawn once and shared by the tests below (drawing is the cost)."""
    return collect(_any_image_list)


def _zip(lists: list[list[dict]], **columns: list) -> list[dict]:
    """One args dict per image list, the other arguments drawn separately."""
    return [
        {
            "images": images_,
            **{name: values[i % len(values)] for name, values in columns.items()},
        }
        for i, images_ in enumerate(lists)
    ]


def test_filter_image_list(
    reference: ReferenceSide, drawn_lists: list[list[dict]]
) -> None:
    args = _zip(
        drawn_lists,
        type_filters=collect(_optional_type_filters),
        attribute_filters=collect(_optional_attribute_filters),
    )
    # One fixed case of each outcome (some kept, none kept), so the check below
    # never depends on what was drawn (a draw once gave no empty result).
    fixed = [
        {"zarr_url": "/zarr/fixed", "attributes": {"w": "A"}, "types": {"3D": True}}
    ]
    args += [
        {"images": fixed, "type_filters": None, "attribute_filters": None},
        {"images": fixed, "type_filters": {"3D": False}, "attribute_filters": None},
    ]
    triples = compare(reference, requests_for("filter_image_list", args))
    kept = [len(ours["ok"]) for _, _, ours in triples]
    assert any(n > 0 for n in kept) and 0 in kept  # both outcomes exercised


def test_match_filter(reference: ReferenceSide) -> None:
    args = collect(
        st.fixed_dictionaries(
            {
                "image": images(),
                "type_filters": type_filters,
                "attribute_filters": attribute_filters,
            }
        )
    )
    triples = compare(reference, requests_for("match_filter", args))
    assert {ours["ok"] for _, _, ours in triples} == {True, False}


def test_merge_type_filters(reference: ReferenceSide) -> None:
    # Our error is IncompatibleTypeFiltersError, a ValueError subclass
    # (docs/types-and-images.md, row "merge_type_filters"); same message.
    args = collect(
        st.fixed_dictionaries(
            {"task_input_types": type_filters, "wftask_type_filters": type_filters}
        )
    )
    # Regression: our message used to append "; conflicting keys: [...]".
    args.append({"task_input_types": {"a": True}, "wftask_type_filters": {"a": False}})
    triples = compare(
        reference, requests_for("merge_type_filters", args), exact_with_messages
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def test_find_image_by_zarr_url(
    reference: ReferenceSide, drawn_lists: list[list[dict]]
) -> None:
    urls = [*SMALL_URL_POOL, "/absent"]
    args = _zip(drawn_lists, zarr_url=urls)
    triples = compare(reference, requests_for("find_image_by_zarr_url", args))
    assert {ours["ok"] is None for _, _, ours in triples} == {True, False}


def _aggregate_attributes_check(
    request: Request, ref: Answer, ours: Answer
) -> str | None:
    """Exact, except that mixed value types are not an error for us.

    docs/types-and-images.md, row "aggregate_attributes" (FOLLOW 2.20, #3223):
    2.17.0 raises TypeError; we return the distinct values, in first-appearance
    order for the keys that cannot be sorted.
    """
    if is_error(ref) and ref["error"]["type"] == "TypeError" and not is_error(ours):
        expected: dict[str, list] = {}
        for image in request["args"]["images"]:
            for key, value in image["attributes"].items():
                values = expected.setdefault(key, [])
                if value not in values:
                    values.append(value)
        for key, values in expected.items():
            with contextlib.suppress(TypeError):
                expected[key] = sorted(values)
        if dumps(ours["ok"]) != dumps(expected):
            return f"mixed types: expected {expected}, ours {ours['ok']}"
        return None
    return exact(request, ref, ours)


def test_aggregate_attributes(
    reference: ReferenceSide, drawn_lists: list[list[dict]]
) -> None:
    args = _zip(drawn_lists)
    triples = compare(
        reference,
        requests_for("aggregate_attributes", args),
        _aggregate_attributes_check,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected  # sortable and mixed-type inputs both drawn


def _aggregate_types_check(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Same names; 2.17.0 returns set order, we sort them.

    docs/types-and-images.md, row "aggregate_types" (spec weak point 7).
    """
    if not is_error(ref) and not is_error(ours):
        if sorted(ref["ok"]) != ours["ok"]:
            return f"reference {ref['ok']} / ours {ours['ok']}"
        return None
    return exact(request, ref, ours)


def test_aggregate_types(
    reference: ReferenceSide, drawn_lists: list[list[dict]]
) -> None:
    args = _zip(drawn_lists)
    compare(reference, requests_for("aggregate_types", args), _aggregate_types_check)
