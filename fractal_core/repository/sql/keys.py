"""Text keys for history: ids the engine reports, stored so they round-trip.

The engine identifies datasets, workflow tasks and jobs by whatever it was
given: an int (a stored object), a string (`"position-3"`, `"local-..."`) or
`None`. History tables store them as text with a one-letter type tag, so
`1` and `"1"` stay different and both come back exactly as given.
"""

from __future__ import annotations

from collections.abc import Hashable

from ..base import RepositoryError

__all__ = ["decode_key", "encode_key", "int_id_of"]

_NONE = "n:"


def encode_key(value: Hashable) -> str:
    """`5` -> `"i:5"`, `"position-3"` -> `"s:position-3"`, `None` -> `"n:"`."""
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return f"b:{int(value)}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, str):
        return f"s:{value}"
    raise RepositoryError(
        f"History key {value!r} of type {type(value).__name__} cannot be stored "
        "(int, str or None expected)."
    )


def decode_key(key: str) -> Hashable:
    """The inverse of `encode_key`."""
    tag, _, rest = key.partition(":")
    if tag == "i":
        return int(rest)
    if tag == "s":
        return rest
    if tag == "b":
        return rest == "1"
    if tag == "n":
        return None
    raise RepositoryError(f"Stored history key {key!r} has an unknown tag.")


def int_id_of(value: Hashable) -> int | None:
    """The value as a stored object's id (a plain int), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
