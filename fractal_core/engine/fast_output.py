"""A fast path for parsing task outputs into plain dicts.

Pydantic validation of 100,000 image entries costs about half a second, most
of it building models the engine immediately turns back into dicts. Outputs in
canonical form (exact JSON types: str urls, dict attributes with scalar or null
values, dict types with real booleans, keys needing no stripping) are checked
and normalised here directly; anything else goes through the pydantic models,
which then either coerce it exactly as before or raise the usual error. The
result is the same either way (a property test compares both paths).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..types import normalize_url
from ._gc import gc_paused
from .outputs import MergedOutput
from .outputs import as_plain
from .outputs import validate_task_output

__all__ = ["parse_task_output"]

_TOP_KEYS = frozenset({"image_list_updates", "image_list_removals"})
_ATTRIBUTE_TYPES = frozenset({int, float, str, bool, type(None)})


class _NotCanonical(Exception):
    """Internal: leave this output to the pydantic path."""


def _clean_keys(d: Any) -> None:
    if type(d) is not dict:
        raise _NotCanonical
    for key in d:
        if type(key) is not str or not key or key != key.strip():
            raise _NotCanonical


def _url(value: Any) -> str:
    if type(value) is not str:
        raise _NotCanonical
    try:
        return normalize_url(value)
    except ValueError:
        raise _NotCanonical from None


def _image(raw: Any) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _NotCanonical
    origin = raw.get("origin")
    attributes = raw.get("attributes", {})
    types = raw.get("types", {})
    _clean_keys(attributes)
    _clean_keys(types)
    for value in attributes.values():
        if type(value) not in _ATTRIBUTE_TYPES:
            raise _NotCanonical
        if type(value) is float and not math.isfinite(value):
            raise _NotCanonical  # the pydantic path refuses NaN and infinities
    for value in types.values():
        if type(value) is not bool:
            raise _NotCanonical
    return {
        "zarr_url": _url(raw.get("zarr_url")),
        "origin": None if origin is None else _url(origin),
        "attributes": attributes,
        "types": types,
    }


def _fast(value: Any) -> MergedOutput:
    if type(value) is not dict or not _TOP_KEYS.issuperset(value):
        raise _NotCanonical
    updates = value.get("image_list_updates", [])
    removals = value.get("image_list_removals", [])
    if type(updates) is not list or type(removals) is not list:
        raise _NotCanonical
    return MergedOutput(
        image_list_updates=[_image(raw) for raw in updates],
        image_list_removals=[_url(url) for url in removals],
    )


def parse_task_output(
    value: Any, output_file: Path | str | None = None, *, pause_gc: bool = False
) -> MergedOutput:
    """A unit's output as plain dicts; TaskOutputValidationError when invalid.

    Same result and same errors as `validate_task_output`, faster on the
    canonical outputs real tasks write. The attribute/type dicts of `value`
    are reused, not copied (the engine never mutates them). `pause_gc=True`
    pauses the process-wide cyclic garbage collector meanwhile (see `_gc`).
    """
    with gc_paused(pause_gc):
        try:
            return _fast(value)
        except _NotCanonical:
            pass
        return as_plain(validate_task_output(value, output_file))
