"""Task outputs: validation, uniqueness check, merge and de-duplication.

Side by side with fractal-server 2.17.0 (`runner/v2/task_interface.py`,
`merge_outputs.py`, `deduplicate_list.py`).
"""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import strategies as st

from tests.strategies import SMALL_URL_POOL
from tests.strategies import raw_init_task_output_dicts
from tests.strategies import raw_task_output_dicts
from tests.strategies import task_output_dicts

from .harness import collect
from .harness import compare
from .harness import count_outcomes
from .harness import dumps
from .harness import exact
from .harness import exact_up_to_key_order
from .harness import is_error
from .harness import message
from .harness import requests_for
from .harness import same_error_kind
from .harness import validation_requests
from .sides import Answer
from .sides import ReferenceSide
from .sides import Request

pytestmark = pytest.mark.slow


def test_task_output_validation(reference: ReferenceSide) -> None:
    # Image attribute/type keys are stripped: key order may differ
    # (docs/types-and-images.md, row "Key stripping (valdict_keys)").
    data = collect(raw_task_output_dicts)
    triples = compare(
        reference,
        validation_requests("TaskOutput", data),
        exact_up_to_key_order,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def test_init_task_output_validation(reference: ReferenceSide) -> None:
    data = collect(raw_init_task_output_dicts)
    triples = compare(
        reference,
        validation_requests("InitTaskOutput", data),
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def _uniqueness_check(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Exact, and for duplicates the same message up to the order of the urls.

    The reference lists the repeated urls in `set` order (random); we list
    them in first-seen order.
    """
    problem = exact_up_to_key_order(request, ref, ours)
    if problem is None and is_error(ref) and ref["error"]["type"] == "ValueError":
        ref_head, *ref_urls = ref["error"]["message"].split("\n")
        our_head, *our_urls = ours["error"]["message"].split("\n")
        if ref_head != our_head or sorted(ref_urls) != sorted(our_urls):
            return f"messages differ: {ref['error']} / {ours['error']}"
    return problem


def test_task_output_uniqueness_check(reference: ReferenceSide) -> None:
    data = collect(task_output_dicts | raw_task_output_dicts)
    triples = compare(
        reference,
        requests_for("task_output_check", [{"data": d} for d in data]),
        _uniqueness_check,
    )
    kinds = {ref["error"]["type"] for _, ref, _ in triples if is_error(ref)}
    assert kinds == {"ValueError", "ValidationError"}


def _merge_check(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Updates exact; removals equal as sets, ours in first-seen order.

    docs/engine.md, "Removals keep first-seen order" (2.17.0 uses a `set`).
    """
    if is_error(ref) or is_error(ours):
        return None if same_error_kind(ref, ours) else f"{ref} / {ours}"
    ref_out, our_out = ref["ok"], ours["ok"]
    if dumps(ref_out["image_list_updates"]) != dumps(our_out["image_list_updates"]):
        return f"updates: reference {ref_out} / ours {our_out}"
    first_seen = list(
        dict.fromkeys(
            posixpath.normpath(url)
            for out in request["args"]["outputs"]
            for url in out["image_list_removals"]
        )
    )
    if sorted(ref_out["image_list_removals"]) != sorted(first_seen):
        return f"removals: reference {ref_out} / expected {first_seen}"
    if our_out["image_list_removals"] != first_seen:
        return f"removals: ours {our_out} / expected {first_seen}"
    return None


def test_merge_outputs(reference: ReferenceSide) -> None:
    outputs = collect(st.lists(task_output_dicts, max_size=4))
    triples = compare(
        reference,
        requests_for("merge_outputs", [{"outputs": o} for o in outputs]),
        _merge_check,
    )
    assert not any(is_error(ref) for _, ref, _ in triples)
    deduplicated = sum(
        len(ours["ok"]["image_list_updates"])
        < sum(len(o["image_list_updates"]) for o in req["args"]["outputs"])
        for req, _, ours in triples
    )
    assert deduplicated  # some merges dropped duplicate updates


def test_deduplicate_list(reference: ReferenceSide) -> None:
    outputs = collect(st.lists(task_output_dicts, max_size=3))
    lists = [[img for o in out for img in o["image_list_updates"]] for out in outputs]
    compare(
        reference,
        requests_for("deduplicate_images", [{"images": imgs} for imgs in lists]),
        exact,
    )


_init_args_items = st.fixed_dictionaries(
    {"zarr_url": st.sampled_from(SMALL_URL_POOL)},
    optional={
        "init_args": st.dictionaries(
            st.sampled_from(["a", "b"]),
            st.sampled_from([1, 1.0, True, [1], [1.0], {"k": 1}, {"k": True}, None]),
            max_size=2,
        )
    },
)


def test_deduplicate_init_args(reference: ReferenceSide) -> None:
    """Nested values compare as the reference compares dumps (`1 == 1.0 == True`)."""
    lists = collect(st.lists(_init_args_items, max_size=5))
    triples = compare(
        reference,
        requests_for("deduplicate_init_args", [{"items": items} for items in lists]),
    )
    assert any(len(ours["ok"]) < len(req["args"]["items"]) for req, _, ours in triples)


def _cast_check(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Same outcome; same TaskOutputValidationError text, pydantic version aside.

    Outputs whose URLs are refused are compared by kind only: our URL message
    differs (docs/types-and-images.md, "Consequences of the rows above").
    """
    problem = exact_up_to_key_order(request, ref, ours)
    if problem is not None or not is_error(ref):
        return problem
    ref_text, our_text = message(ref), message(ours)
    if "URLs must begin" not in ref_text and ref_text != our_text:
        return f"messages: {ref_text!r} / {our_text!r}"
    return None


@pytest.mark.parametrize(
    ("fn", "strategy"),
    [
        ("cast_task_output", raw_task_output_dicts),
        ("cast_init_task_output", raw_init_task_output_dicts),
    ],
)
def test_task_output_errors(
    reference: ReferenceSide, fn: str, strategy: st.SearchStrategy
) -> None:
    data = collect(strategy, count=150)
    triples = compare(
        reference, requests_for(fn, [{"data": d} for d in data]), _cast_check
    )
    assert {ref["error"]["type"] for _, ref, _ in triples if is_error(ref)} == {
        "TaskOutputValidationError"
    }
