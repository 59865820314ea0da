"""Indexes behind `ImageList` filters, and the shared-types helper for dict images.

- `shared_types`: equal all-boolean types dicts become one shared dict (for
  the engine's pure functions on dict images; never mutate the result).
- `PositionIndex`: per indexed key (an attribute key, or `TYPES` for the types
  code), value -> {position: None}, built lazily on the first filter that needs
  it and kept up to date by every insert/update/remove. A selective filter then
  costs O(k log k) for k candidates instead of a pass over every image; a
  single bucket still in list order costs O(k).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from itertools import compress
from typing import Any

from .store import ImageStore
from .store import Packed
from .store import Tables

__all__ = ["TYPES", "PositionIndex", "shared_types"]

_TYPES_CACHE_SIZE = 4096
_types_cache: dict[tuple[tuple[str, bool], ...], dict[str, bool]] = {}
_MISSING = object()
TYPES = "\x00types"
"""The index key of the types code (no attribute key can equal it: keys are
validated as stripped non-empty strings, and a NUL-prefixed one never is)."""

Bucket = dict[int, None]


def shared_types(types: Mapping[str, Any]) -> dict[str, Any]:
    """One shared dict per distinct all-boolean types dict (never mutate it).

    Dicts with non-boolean values (unvalidated loads) are copied, not shared,
    so `1` never turns into `True`. The cache is bounded (cleared when full).
    """
    items = tuple(types.items())
    for _, value in items:
        if type(value) is not bool:
            return dict(items)
    found = _types_cache.get(items)
    if found is None:
        if len(_types_cache) >= _TYPES_CACHE_SIZE:
            _types_cache.clear()
        found = _types_cache[items] = dict(items)
    return found


def _value(tables: Tables, packed: Packed, key: str) -> Any:
    return tables.attribute(packed, key, _MISSING)


def _code_buckets(store: ImageStore) -> dict[Any, Bucket]:
    """Types code -> positions: one C-speed pass per code when codes are few."""
    present = set(store.codes_column())
    present.discard(-1)  # holes
    if len(present) > 16:
        buckets: dict[Any, Bucket] = {}
        for p, code in enumerate(store.codes_column()):
            if code >= 0:
                buckets.setdefault(code, {})[p] = None
        return buckets
    return {
        code: dict.fromkeys(
            compress(range(store.end), map(code.__eq__, store.codes_column()))
        )
        for code in present
    }


class PositionIndex:
    """Per key, value -> positions; buckets out of list order are sorted on use."""

    __slots__ = ("buckets", "dirty", "layout", "tables", "unindexable")

    def __init__(self, store: ImageStore) -> None:
        self.layout = store.layout
        self.tables = store.tables
        self.buckets: dict[str, dict[Any, Bucket]] = {}
        self.dirty: set[int] = set()  # ids of buckets that may be out of order
        self.unindexable: set[str] = set()

    def _build(self, store: ImageStore, key: str) -> bool:
        """Index `key` (one pass, list order); False if a value is unhashable."""
        buckets: dict[Any, Bucket] = {}
        try:
            if key == TYPES:
                buckets = _code_buckets(store)
            else:
                schemas = store.tables.schemas
                for p, packed in enumerate(store.attrs_column()):
                    if packed is not None:
                        slot = schemas[packed[-1]].slots.get(key)
                        if slot is not None:
                            buckets.setdefault(packed[slot], {})[p] = None
        except TypeError:
            self.unindexable.add(key)
            return False
        self.buckets[key] = buckets
        return True

    def candidates(
        self, store: ImageStore, key: str, accepted: Sequence[Any]
    ) -> list[Bucket] | None:
        """Buckets of the images whose `key` equals an accepted value.

        None when the index cannot answer exactly (an unhashable value, or
        None accepted: a missing key reads as None and would match).
        """
        if key in self.unindexable:
            return None
        if key not in self.buckets and not self._build(store, key):
            return None
        buckets = self.buckets[key]
        found: list[Bucket] = []
        seen: set[int] = set()
        try:
            for value in accepted:
                if value is None:
                    return None
                bucket = buckets.get(value)
                if bucket is not None and id(bucket) not in seen:
                    seen.add(id(bucket))
                    found.append(bucket)
        except TypeError:
            return None
        return found

    def ordered(self, buckets: list[Bucket]) -> list[int]:
        """The positions of the buckets, in list order."""
        if len(buckets) == 1:
            bucket = buckets[0]
            if id(bucket) in self.dirty:
                ordered = sorted(bucket)
                bucket.clear()
                bucket.update(dict.fromkeys(ordered))
                self.dirty.discard(id(bucket))
                return ordered
            return list(bucket)
        return sorted(p for bucket in buckets for p in bucket)

    # --- upkeep -------------------------------------------------------------

    def added(self, p: int, packed: Packed, code: int) -> None:
        """A new image was appended at position `p`."""
        for key in list(self.buckets):
            value = code if key == TYPES else _value(self.tables, packed, key)
            self._insert(key, p, value)

    def removed(self, p: int, packed: Packed, code: int) -> None:
        """The image at `p` was removed."""
        for key in list(self.buckets):
            value = code if key == TYPES else _value(self.tables, packed, key)
            self._discard(key, p, value)

    def replaced(
        self, p: int, old: tuple[Packed, int], new: tuple[Packed, int]
    ) -> None:
        """The image at `p` changed content (same position)."""
        for key in list(self.buckets):
            if key == TYPES:
                before, after = old[1], new[1]
            elif old[0] is new[0]:
                continue
            else:
                before, after = (
                    _value(self.tables, old[0], key),
                    _value(self.tables, new[0], key),
                )
            if before is after or (type(before) is type(after) and before == after):
                continue
            self._discard(key, p, before)
            if key in self.buckets:
                self._insert(key, p, after)

    def _insert(self, key: str, p: int, value: Any) -> None:
        if value is _MISSING:
            return
        try:
            bucket = self.buckets[key].setdefault(value, {})
        except TypeError:
            del self.buckets[key]
            self.unindexable.add(key)
            return
        if bucket and next(reversed(bucket)) > p:
            self.dirty.add(id(bucket))
        bucket[p] = None

    def _discard(self, key: str, p: int, value: Any) -> None:
        if value is _MISSING:
            return
        buckets = self.buckets[key]
        try:
            bucket = buckets.get(value)
        except TypeError:  # pragma: no cover - never inserted, so never here
            return
        if bucket is not None:
            bucket.pop(p, None)
            if not bucket:
                del buckets[value]
                self.dirty.discard(id(bucket))
