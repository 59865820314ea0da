"""Constrained types and string tools, side by side with fractal-server 2.17.0."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.strategies import invalid_url_inputs
from tests.strategies import local_zarr_urls
from tests.strategies import messy_local_paths
from tests.strategies import raw_attribute_filter_dicts
from tests.strategies import raw_image_dicts
from tests.strategies import raw_type_filter_dicts

from .harness import collect
from .harness import compare
from .harness import count_outcomes
from .harness import exact
from .harness import exact_up_to_key_order
from .harness import is_error
from .harness import requests_for
from .harness import validation_requests
from .sides import ReferenceSide
from .sides import Request
from .sides import evaluate_ours

pytestmark = pytest.mark.slow

FORBIDDEN_IN_COMMANDS = r"`#$&*()\|[]{};<>?!"


def test_normalize_url_on_local_paths(reference: ReferenceSide) -> None:
    # Error messages differ on purpose (ours names 's3://' and the value:
    # docs/types-and-images.md, row "s3:// zarr URLs"), so only kinds compare.
    urls = collect(messy_local_paths | invalid_url_inputs | local_zarr_urls)
    triples = compare(
        reference, requests_for("normalize_url", [{"url": url} for url in urls])
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def test_normalize_url_documented_differences(reference: ReferenceSide) -> None:
    """Each deliberate difference, pinned (docs/types-and-images.md, first rows)."""
    cases = {
        # FOLLOW 2.18 (#3031): `..` refused instead of resolved.
        "/a/../b": ({"ok": "/b"}, "error"),
        "/a/b/..": ({"ok": "/a"}, "error"),
        # Weak point 3: a leading `//` is collapsed.
        "//a/b": ({"ok": "//a/b"}, {"ok": "/a/b"}),
        "  //a/./b/ ": ({"ok": "//a/b"}, {"ok": "/a/b"}),
        # FOLLOW 2.20 (#3127): s3:// URLs accepted, trailing slashes stripped.
        "s3://bucket/key/": ("error", {"ok": "s3://bucket/key"}),
        "s3bucket": ("error", "error"),
    }
    requests = requests_for("normalize_url", [{"url": url} for url in cases])
    answers = reference.evaluate(requests)
    ours = evaluate_ours(requests)
    for (url, (want_ref, want_ours)), ref_answer, our_answer in zip(
        cases.items(), answers, ours, strict=True
    ):
        for want, got in ((want_ref, ref_answer), (want_ours, our_answer)):
            if want == "error":
                assert is_error(got), (url, got)
            else:
                assert got == want, (url, got)


def test_sanitize_string(reference: ReferenceSide) -> None:
    values = collect(
        st.text(max_size=30) | st.text(alphabet="aZ _-./:ÄİßΣ\t", max_size=8)
    )
    compare(
        reference,
        requests_for("sanitize_string", [{"value": v} for v in values]),
    )


def test_validate_cmd(reference: ReferenceSide) -> None:
    # Messages are not compared: the reference prints a `set`, whose order
    # changes from one process to the next.
    args = collect(
        st.fixed_dictionaries(
            {
                "command": st.text(
                    alphabet="abc /-_.=" + FORBIDDEN_IN_COMMANDS + "\"'\n", max_size=12
                )
                | st.sampled_from([1, None]),
            },
            optional={
                "allow_char": st.none()
                | st.text(alphabet=FORBIDDEN_IN_COMMANDS + "a", max_size=4),
                "attribute_name": st.sampled_from(["Command", "pip_extras"]),
            },
        )
    )
    triples = compare(reference, requests_for("validate_cmd", args))
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def test_type_filters_validation(reference: ReferenceSide) -> None:
    data = collect(raw_type_filter_dicts)
    triples = compare(
        reference,
        validation_requests("TypeFilters", data),
        exact_up_to_key_order,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected
    for request, _, ours in triples:
        if not is_error(ours):  # our order: the input's, keys stripped
            stripped = [key.strip() for key in request["args"]["data"]]
            assert list(ours["ok"]) == stripped


def test_attribute_filters_validation(reference: ReferenceSide) -> None:
    data = collect(raw_attribute_filter_dicts)
    triples = compare(
        reference,
        validation_requests("AttributeFilters", data),
        exact_up_to_key_order,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


@pytest.mark.parametrize("model", ["SingleImage", "SingleImageTaskOutput"])
def test_single_image_models(reference: ReferenceSide, model: str) -> None:
    data = collect(raw_image_dicts)
    triples = compare(
        reference, validation_requests(model, data), exact_up_to_key_order
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def test_exact_check_is_strict() -> None:
    """The comparison itself tells 1, 1.0 and True apart, and dict key order."""
    request: Request = {"fn": "x", "args": {}}
    assert exact(request, {"ok": [1]}, {"ok": [1.0]}) is not None
    assert exact(request, {"ok": [1]}, {"ok": [True]}) is not None
    assert exact(request, {"ok": {"a": 1, "b": 2}}, {"ok": {"b": 2, "a": 1}})
    assert exact(request, {"ok": {"a": 1}}, {"ok": {"a": 1}}) is None
