"""Dictionaries with validated string keys, and workflow-task arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from typing import Any
from typing import TypeVar

from pydantic import AfterValidator

from .strings import NonEmptyStr

__all__ = [
    "RESERVED_WFT_ARGUMENTS",
    "DictStrAny",
    "DictStrStr",
    "WorkflowTaskArgument",
    "valdict_keys",
    "validate_wft_args",
]

V = TypeVar("V")

RESERVED_WFT_ARGUMENTS = frozenset({"zarr_dir", "zarr_url", "zarr_urls", "init_args"})
"""Argument names that the engine sets itself and users may not pass."""


def valdict_keys(d: Mapping[str, V]) -> dict[str, V]:
    """Return a new dict with stripped keys, in the original order.

    Fails on an empty (or whitespace-only) key and on keys that collide after
    stripping. Unlike the reference, the input is never mutated and renamed keys
    keep their position.
    """
    new_keys = [key.strip() for key in d]
    if any(key == "" for key in new_keys):
        raise ValueError(f"Empty string in {new_keys}.")
    if len(set(new_keys)) != len(new_keys):
        raise ValueError(f"Dictionary contains multiple identical keys: '{d}'.")
    return dict(zip(new_keys, d.values(), strict=True))


def validate_wft_args(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse top-level argument keys that the engine reserves for itself."""
    forbidden = RESERVED_WFT_ARGUMENTS.intersection(value)
    if forbidden:
        # The reference prints the set; a sorted set literal reads the same.
        keys = ", ".join(repr(key) for key in sorted(forbidden))
        raise ValueError(f"`args` contains the following forbidden keys: {{{keys}}}")
    return value


DictStrAny = Annotated[dict[str, Any], AfterValidator(valdict_keys)]
"""A dict with stripped, non-empty, unique string keys and any values."""

DictStrStr = Annotated[dict[str, NonEmptyStr], AfterValidator(valdict_keys)]
"""As `DictStrAny`, with non-empty (stripped) string values."""

WorkflowTaskArgument = Annotated[DictStrAny, AfterValidator(validate_wft_args)]
"""Task arguments: a `DictStrAny` without reserved keys (`zarr_url`, ...)."""
