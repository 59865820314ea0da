"""Compact storage helpers and the attribute index behind `ImageList`.

- `shared_types`: equal types dicts become one shared dict (stored images are
  never mutated, so sharing is safe); a million images usually carry a
  handful of distinct types dicts, so each image stops paying ~200 bytes.
- `AttributeIndex`: per attribute key (built lazily, for the keys actually
  filtered on), value -> zarr_urls, plus each image's position, kept up to
  date on insert/update/remove. A selective attribute filter then costs
  O(k log k) for k candidates instead of a pass over every image.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

__all__ = ["AttributeIndex", "shared_types"]

ImageDict = dict[str, Any]

_TYPES_CACHE_SIZE = 4096
_types_cache: dict[tuple[tuple[str, bool], ...], dict[str, bool]] = {}
_MISSING = object()


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


class _Unindexable(Exception):
    """Internal: a key whose values are not all hashable."""


class AttributeIndex:
    """Positions of images and, per indexed key, value -> {zarr_url: None}."""

    __slots__ = ("buckets", "in_order", "next_position", "positions", "unindexable")

    def __init__(self, images: Mapping[str, ImageDict]) -> None:
        self.positions: dict[str, int] = {url: i for i, url in enumerate(images)}
        self.next_position = len(self.positions)
        self.buckets: dict[str, dict[Any, dict[str, None]]] = {}
        self.in_order: dict[str, bool] = {}
        self.unindexable: set[str] = set()

    def _build(self, images: Mapping[str, ImageDict], key: str) -> bool:
        """Index `key` (one pass, list order); False if a value is unhashable."""
        buckets: dict[Any, dict[str, None]] = {}
        try:
            for url, image in images.items():
                value = image["attributes"].get(key, _MISSING)
                if value is not _MISSING:
                    buckets.setdefault(value, {})[url] = None
        except TypeError:
            self.unindexable.add(key)
            return False
        self.buckets[key] = buckets
        self.in_order[key] = True
        return True

    def candidates(
        self, images: Mapping[str, ImageDict], key: str, accepted: Sequence[Any]
    ) -> tuple[list[dict[str, None]], bool] | None:
        """Buckets of the images whose `key` equals an accepted value.

        Returns (buckets, already in list order), or None when the index cannot
        answer exactly (an unhashable value, or None accepted: a missing key
        reads as None and would match).
        """
        if key in self.unindexable:
            return None
        if key not in self.buckets and not self._build(images, key):
            return None
        buckets = self.buckets[key]
        found: list[dict[str, None]] = []
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
        return found, self.in_order[key] and len(found) <= 1

    # --- upkeep -------------------------------------------------------------

    def added(self, url: str, image: ImageDict) -> None:
        """A new image was appended."""
        self.positions[url] = self.next_position
        self.next_position += 1
        for key in list(self.buckets):
            self._insert(key, url, image["attributes"].get(key, _MISSING))

    def removed(self, url: str, image: ImageDict) -> None:
        """An image was removed."""
        del self.positions[url]
        for key in list(self.buckets):
            self._discard(key, url, image["attributes"].get(key, _MISSING))

    def replaced(self, url: str, old: ImageDict, new: ImageDict) -> None:
        """An image's content changed in place (same position)."""
        old_attributes, new_attributes = old["attributes"], new["attributes"]
        if old_attributes is new_attributes:
            return
        for key in list(self.buckets):
            before = old_attributes.get(key, _MISSING)
            after = new_attributes.get(key, _MISSING)
            if before is after:
                continue
            self._discard(key, url, before)
            if key in self.buckets:
                self._insert(key, url, after)
                self.in_order[key] = False

    def _insert(self, key: str, url: str, value: Any) -> None:
        if value is _MISSING:
            return
        try:
            self.buckets[key].setdefault(value, {})[url] = None
        except TypeError:
            del self.buckets[key]
            self.unindexable.add(key)

    def _discard(self, key: str, url: str, value: Any) -> None:
        if value is _MISSING:
            return
        buckets = self.buckets[key]
        try:
            bucket = buckets.get(value)
        except TypeError:  # pragma: no cover - never inserted, so never here
            return
        if bucket is not None:
            bucket.pop(url, None)
            if not bucket:
                del buckets[value]
