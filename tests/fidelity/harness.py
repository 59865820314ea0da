"""Collect hypothesis examples, evaluate them on both sides in one batch, compare.

A test draws its examples first (`collect`), evaluates the whole batch once per
side (one reference subprocess), then checks every pair with a `Check`: a
function returning None when the answers agree, else a description. Documented
deliberate differences are encoded in the tests' own checks, never here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from .sides import Answer
from .sides import ReferenceSide
from .sides import Request
from .sides import evaluate_ours

Check = Callable[[Request, Answer, Answer], str | None]

EXAMPLES_ENV_VAR = "FRACTAL_CORE_FIDELITY_EXAMPLES"
DEFAULT_EXAMPLES = 300
MAX_REPORTED = 5

COMPARED: dict[str, int] = {}
"""Examples compared per function name, for the terminal summary."""


def n_examples(scale: float = 1.0) -> int:
    """Examples per strategy: `$FRACTAL_CORE_FIDELITY_EXAMPLES` (default 300)."""
    base = int(os.environ.get(EXAMPLES_ENV_VAR, DEFAULT_EXAMPLES))
    return max(1, int(base * scale))


def collect(strategy: st.SearchStrategy[Any], count: int | None = None) -> list[Any]:
    """Draw up to `count` examples from `strategy` (fewer if the space is small)."""
    drawn: list[Any] = []

    @settings(
        max_examples=count or n_examples(),
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(example: Any) -> None:
        drawn.append(example)

    draw()
    return drawn


def dumps(value: Any) -> str:
    """Order-sensitive canonical text (dict key order and 1/1.0/True all count)."""
    return json.dumps(value)


def is_error(answer: Answer) -> bool:
    return "error" in answer


def same_error_kind(ref: Answer, ours: Answer) -> bool:
    """Both failed, and ours is (a subclass of) the reference's exception class."""
    return (
        is_error(ref)
        and is_error(ours)
        and ref["error"]["type"] in ours["error"]["mro"]
    )


def details_agree(
    ref: Answer, ours: Answer, aliases: dict[str, str] | None = None
) -> bool:
    """Validation errors at the same locations, of the same types, in order.

    `aliases` maps our error types to the reference's where a test documents
    a deliberate difference.
    """
    ref_details = ref["error"].get("details")
    our_details = ours["error"].get("details")
    if ref_details is None or our_details is None:
        return ref_details is our_details
    renamed = [[loc, (aliases or {}).get(kind, kind)] for loc, kind in our_details]
    return renamed == ref_details


def exact(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Same result (order included), or failures of the same exception class.

    Validation errors must also agree on locations and types (`details_agree`).
    """
    if is_error(ref) or is_error(ours):
        if same_error_kind(ref, ours) and details_agree(ref, ours):
            return None
        return f"reference {_short(ref)} / ours {_short(ours)}"
    if dumps(ref["ok"]) != dumps(ours["ok"]):
        return f"reference {_short(ref)} / ours {_short(ours)}"
    return None


def message(answer: Answer) -> str:
    """An error's message without the pydantic version in its docs links."""
    return re.sub(r"errors\.pydantic\.dev/[0-9.]+/", "", answer["error"]["message"])


def exact_with_messages(request: Request, ref: Answer, ours: Answer) -> str | None:
    """As `exact`, and error messages must be identical too."""
    problem = exact(request, ref, ours)
    if problem is None and is_error(ref) and message(ref) != message(ours):
        return f"messages differ: {ref['error']} / {ours['error']}"
    return problem


def _short(answer: Answer) -> str:
    text = json.dumps(answer)
    return text if len(text) < 600 else text[:600] + "..."


def compare(
    reference: ReferenceSide,
    requests: list[Request],
    check: Check = exact,
) -> list[tuple[Request, Answer, Answer]]:
    """Evaluate `requests` on both sides; assert `check` accepts every pair.

    Returns the (request, reference answer, our answer) triples so tests can
    also assert that the batch exercised what it meant to (accepts and rejects).
    """
    ref_answers = reference.evaluate(requests)
    our_answers = evaluate_ours(requests)
    problems = []
    for request, ref, ours in zip(requests, ref_answers, our_answers, strict=True):
        problem = check(request, ref, ours)
        if problem is not None:
            problems.append(f"{json.dumps(request)[:800]}\n  -> {problem}")
    for request in requests:
        COMPARED[request["fn"]] = COMPARED.get(request["fn"], 0) + 1
    assert not problems, (
        f"{len(problems)} of {len(requests)} examples diverge; first ones:\n"
        + "\n".join(problems[:MAX_REPORTED])
    )
    return list(zip(requests, ref_answers, our_answers, strict=True))


def requests_for(fn: str, args_list: list[dict[str, Any]]) -> list[Request]:
    return [{"fn": fn, "args": args} for args in args_list]


def validation_requests(model: str, data: list[Any]) -> list[Request]:
    """Requests validating each item of `data` as `model` (see sides.MODELS)."""
    return requests_for("validate", [{"model": model, "data": d} for d in data])


def count_outcomes(triples: list[tuple[Request, Answer, Answer]]) -> tuple[int, int]:
    """(accepted, rejected) by the reference, to check both sides were exercised."""
    rejected = sum(1 for _, ref, _ in triples if is_error(ref))
    return len(triples) - rejected, rejected


def exact_up_to_key_order(
    request: Request,
    ref: Answer,
    ours: Answer,
    aliases: dict[str, str] | None = None,
) -> str | None:
    """As `exact`, but dict key order is ignored (values compared as JSON).

    For results holding stripped keys: docs/types-and-images.md, row "Key
    stripping (valdict_keys)" (spec weak point 1): 2.17.0 moves renamed keys
    to the end, we keep their position.
    """
    if is_error(ref) or is_error(ours):
        if same_error_kind(ref, ours) and details_agree(ref, ours, aliases):
            return None
        return f"reference {_short(ref)} / ours {_short(ours)}"
    if json.dumps(ref["ok"], sort_keys=True) != json.dumps(ours["ok"], sort_keys=True):
        return f"reference {_short(ref)} / ours {_short(ours)}"
    return None
