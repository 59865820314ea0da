"""More constrained types and small string helpers, side by side with 2.17.0."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.strategies import RAW_KEYS
from tests.strategies import local_zarr_urls
from tests.strategies import loose_values
from tests.strategies import messy_local_paths
from tests.strategies import raw_image_dicts

from .harness import collect
from .harness import compare
from .harness import count_outcomes
from .harness import exact
from .harness import exact_up_to_key_order
from .harness import is_error
from .harness import message
from .harness import requests_for
from .harness import validation_requests
from .sides import Answer
from .sides import ReferenceSide
from .sides import Request

pytestmark = pytest.mark.slow

RESERVED = ["zarr_url", "zarr_urls", "zarr_dir", "init_args"]


def _message_extends_reference(
    request: Request, ref: Answer, ours: Answer
) -> str | None:
    """As `exact`; our message is the reference's, possibly naming the value.

    docs/types-and-images.md, "Error messages": where 2.17.0's message does
    not name the value, ours appends it.
    """
    problem = exact(request, ref, ours)
    if problem is None and is_error(ref):
        prefix = message(ref).rstrip(".")
        if not message(ours).startswith(prefix):
            return (
                f"messages: {ref['error']['message']!r} / {ours['error']['message']!r}"
            )
    return problem


def test_interpret_as_bool(reference: ReferenceSide) -> None:
    values = collect(
        st.booleans()
        | st.sampled_from(["true", "TRUE", "False", "fAlSe", "yes", "1", "", " true"])
        | st.sampled_from([0, 1, None, 1.0])
    )
    triples = compare(
        reference,
        requests_for("interpret_as_bool", [{"value": v} for v in values]),
        _message_extends_reference,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def test_normalize_package_name(reference: ReferenceSide) -> None:
    names = collect(st.text(alphabet="aBz09-_.", max_size=12))
    compare(
        reference,
        requests_for("normalize_package_name", [{"name": n} for n in names]),
    )


def _forbidden_keys_check(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Exact, messages included when one key is reserved (2.17.0 prints a set)."""
    problem = exact(request, ref, ours)
    reserved = set(RESERVED) & set(request["args"]["value"])
    if (
        problem is None
        and len(reserved) == 1
        and ref["error"]["message"] != ours["error"]["message"]
    ):
        return f"messages: {ref['error']} / {ours['error']}"
    return problem


def test_validate_wft_args(reference: ReferenceSide) -> None:
    values = collect(
        st.dictionaries(
            st.sampled_from([*RESERVED, "a", "b"]), loose_values, max_size=3
        )
    )
    # Regression: our message printed a list (['zarr_url']), 2.17.0 a set.
    values.append({"zarr_url": 1, "a": 2})
    triples = compare(
        reference,
        requests_for("validate_wft_args", [{"value": v} for v in values]),
        _forbidden_keys_check,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


_padded = st.sampled_from(["", " ", "\t"])
_raw_dicts = st.dictionaries(st.sampled_from(RAW_KEYS), loose_values, max_size=3)
_wft_args = st.dictionaries(
    st.sampled_from([*RESERVED, " zarr_url", "a", " a"]), loose_values, max_size=3
)
_normalised_abs_paths = st.builds(
    lambda pad, path: f"{pad}{path}{pad}", _padded, local_zarr_urls
)
"""AbsolutePathStr inputs that 2.17.0 and we both keep verbatim (after strip).

We normalise absolute paths and refuse `..` (docs/types-and-images.md, rows
"AbsolutePathStr" and "`..` in zarr URLs"), so un-normalised paths are left out.
"""

ADAPTER_INPUTS: dict[str, st.SearchStrategy] = {
    "NonEmptyStr": st.text(alphabet=" \tab\u00a0", max_size=4)
    | st.sampled_from([1, None]),
    "HttpUrlStr": st.sampled_from(
        ["https://a.org", " http://a.org/x ", "ftp://a.org", "a.org", "", "http://"]
    )
    | st.text(alphabet="htps:/a.", max_size=10),
    "AbsolutePathStr": _normalised_abs_paths | st.sampled_from(["a/b", "", " ", "~"]),
    "ZarrUrlStr": messy_local_paths | st.sampled_from(["", " ", "a", "http://x", 3]),
    "DictStrAny": _raw_dicts,
    "DictStrStr": st.dictionaries(
        st.sampled_from(RAW_KEYS), st.sampled_from(["x", " x ", "", " ", 1, None])
    ),
    "ListUniqueNonEmptyString": st.lists(
        st.sampled_from(["a", " a", "b", "", " ", 1]), max_size=3
    ),
    "ListUniqueNonNegativeInt": st.lists(
        st.sampled_from([0, 1, 2, -1, "2", 2.0, 1.5, True, None]), max_size=3
    ),
    "ListUniqueAbsolutePathStr": st.lists(
        st.sampled_from(["/a", "/a/b", " /a", "a", ""]) | _normalised_abs_paths,
        max_size=3,
    ),
    "WorkflowTaskArgument": _wft_args,
    "SingleImageUpdate": raw_image_dicts
    | st.fixed_dictionaries(
        {"zarr_url": st.just("/a")},
        optional={"attributes": st.none(), "types": st.none()},
    ),
}


@pytest.mark.parametrize("model", sorted(ADAPTER_INPUTS))
def test_constrained_types(reference: ReferenceSide, model: str) -> None:
    # Key order may differ for stripped keys (exact_up_to_key_order documents it).
    data = collect(ADAPTER_INPUTS[model], count=150)
    triples = compare(
        reference,
        validation_requests(model, data),
        exact_up_to_key_order,
    )
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected


def _validator_check(request: Request, ref: Answer, ours: Answer) -> str | None:
    """Same outcome up to key order; our message extends the reference's.

    Key order: docs/types-and-images.md, row "Key stripping (valdict_keys)".
    Messages: docs/types-and-images.md, "Error messages"; and since stripped
    keys keep their place, the key an attribute-filter message names may
    differ ("Consequences of the rows above"), so those are compared by kind.
    """
    problem = exact_up_to_key_order(request, ref, ours)
    if problem is not None or not is_error(ref):
        return problem
    if (
        request["fn"] == "validate_attribute_filters"
        or "Dictionary" in (ref["error"]["message"])
    ):
        return None  # the messages print the dict, in each side's key order
    return _message_extends_reference(request, ref, ours)


VALIDATOR_INPUTS: dict[str, st.SearchStrategy] = {
    "valdict_keys": st.fixed_dictionaries({"d": _raw_dicts}),
    "validate_attribute_filters": st.fixed_dictionaries(
        {
            "attribute_filters": st.dictionaries(
                st.sampled_from(RAW_KEYS),
                st.lists(st.sampled_from([1, 1.0, True, "1", None]), max_size=3),
                max_size=3,
            )
        }
    ),
    "val_unique_list": st.fixed_dictionaries(
        {
            "must_be_unique": st.lists(
                st.sampled_from([1, 1.0, True, "1", "a"]), max_size=3
            )
        }
    ),
    "val_http_url": st.fixed_dictionaries(
        {"value": st.sampled_from(["https://a.org", "http://a", "ftp://a", "x", ""])}
    ),
}


@pytest.mark.parametrize("fn", sorted(VALIDATOR_INPUTS))
def test_validators(reference: ReferenceSide, fn: str) -> None:
    args = collect(VALIDATOR_INPUTS[fn], count=150)
    triples = compare(reference, requests_for(fn, args), _validator_check)
    accepted, rejected = count_outcomes(triples)
    assert accepted and rejected
