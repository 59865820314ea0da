"""Scans of an image store and of image dicts by pre-processed filters, and
equality of two stores (what `ImageList` does when no index answers)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from itertools import compress
from typing import Any
from typing import TypeVar

from .store import ImageStore

__all__ = [
    "code_matches",
    "code_positions",
    "same_images",
    "scan_positions",
    "select_stored",
]

_M = TypeVar("_M", bound=Mapping[str, Any])


def same_images(a: ImageStore, b: ImageStore) -> bool:
    """Equal images in equal order (dict equality of attributes and types)."""
    if len(a) != len(b):
        return False
    types_a, types_b = a.tables.types, b.tables.types
    same_tables = a.tables is b.tables
    for p, q in zip(a.positions(), b.positions(), strict=True):
        if a.url(p) != b.url(q) or a.origin(p) != b.origin(q):
            return False
        pa, pb = a.packed(p), b.packed(q)
        if not (same_tables and (pa is pb or pa == pb)) and (
            a.tables.unpack(pa) != b.tables.unpack(pb)
        ):
            return False
        ca, cb = a.code(p), b.code(q)
        if not (same_tables and ca == cb) and types_a[ca] != types_b[cb]:
            return False
    return True


def code_positions(store: ImageStore, codes: frozenset[int] | None) -> list[int]:
    """Positions whose types code is in `codes` (all if None), one C-speed pass."""
    if codes is None:
        return store.positions()
    return list(compress(range(store.end), code_matches(store, codes)))


def code_matches(store: ImageStore, codes: frozenset[int]) -> Iterator[bool]:
    """Per position, whether its types code is one of `codes` (holes never are)."""
    if len(codes) == 1:
        (code,) = codes
        return map(code.__eq__, store.codes_column())
    return map(codes.__contains__, store.codes_column())


def scan_positions(
    store: ImageStore,
    positions: list[int],
    wanted_attrs: tuple[tuple[str, Sequence[Any]], ...],
) -> list[int]:
    """The positions whose attributes match (sets when values are hashable)."""
    try:
        prepared = tuple((key, _membership(values)) for key, values in wanted_attrs)
        return _check_attributes(store, positions, prepared)
    except TypeError:
        return _check_attributes(store, positions, wanted_attrs)


def _check_attributes(
    store: ImageStore,
    positions: list[int],
    wanted_attrs: tuple[tuple[str, Any], ...],
) -> list[int]:
    packed, attribute = store.packed, store.tables.attribute
    if len(wanted_attrs) == 1:
        ((key, values),) = wanted_attrs
        return [p for p in positions if attribute(packed(p), key) in values]
    return [
        p
        for p in positions
        if all(attribute(packed(p), key) in values for key, values in wanted_attrs)
    ]


def select_stored(
    images: Iterable[_M],
    wanted_types: tuple[tuple[str, Any], ...],
    wanted_attrs: tuple[tuple[str, Any], ...],
) -> Iterable[_M]:
    """The images matching the filters, in order, not copied (`match_filter`).

    Attribute values are turned into sets when all are hashable (an
    unhashable image value then falls back to list membership).
    """
    try:
        return _select(
            images,
            wanted_types,
            tuple((key, _membership(values)) for key, values in wanted_attrs),
        )
    except TypeError:
        return _select(images, wanted_types, wanted_attrs)


def _select(
    images: Iterable[_M],
    wanted_types: tuple[tuple[str, Any], ...],
    wanted_attrs: tuple[tuple[str, Any], ...],
) -> Iterable[_M]:
    """One linear pass selecting the images that match pre-processed filters."""
    if not wanted_types and not wanted_attrs:
        return images
    if len(wanted_types) == 1 and len(wanted_attrs) == 1:
        # The common case (one type, one attribute), as one comprehension.
        ((tkey, tvalue),) = wanted_types
        ((akey, avalues),) = wanted_attrs
        return [
            image
            for image in images
            if image["types"].get(tkey, False) == tvalue
            and image["attributes"].get(akey) in avalues
        ]
    return [image for image in images if _matches(image, wanted_types, wanted_attrs)]


def _matches(
    image: Mapping[str, Any],
    wanted_types: tuple[tuple[str, Any], ...],
    wanted_attrs: tuple[tuple[str, Any], ...],
) -> bool:
    """`match_filter` on pre-processed filters."""
    if wanted_types:
        types = image["types"]
        for key, value in wanted_types:
            if types.get(key, False) != value:
                return False
    if wanted_attrs:
        attributes = image["attributes"]
        for key, values in wanted_attrs:
            if attributes.get(key) not in values:
                return False
    return True


def _membership(values: Sequence[Any]) -> frozenset[Any]:
    """A set with the list's `in` semantics for hashable values (scalars).

    Raises TypeError if a filter value is unhashable; so does a look-up of an
    unhashable image value, and the caller then falls back to the list.
    """
    return frozenset(values)
