"""Chunked column storage behind `ImageList`: a few hundred bytes per image.

One `ImageStore` is one version of an image list. Four columns (zarr_url,
origin, packed attributes, types code) are lists of chunks of `CHUNK` slots,
indexed by position (list order). `fork()` is O(1): both versions share every
chunk, and the first write to a chunk copies only that chunk, so changing k
images of N in a fork costs O(k), never O(N).

Positions are append-only: a removed image leaves a hole (url None), and the
store is compacted once holes outnumber images. zarr_url -> position is a base
dict shared between forks plus a small overlay of this version's insertions
(merged into a new base once it grows past 1/8 of the list); a position read
from either is trusted only if its url slot still holds that zarr_url.

Interned parts shared by every fork of one store (`Tables`):
- types: one small int code per distinct all-boolean types dict (the dict is
  built once; non-boolean types from unvalidated loads get a code each);
- attributes: stored as `(*values, schema id)`, where the schema (the ordered
  key tuple, with a key -> slot map) is one shared object per distinct key
  order. Packed tuples hold only ints and values, so the cyclic garbage
  collector untracks them: a million images add no work to its full passes.
No per-image dict exists at rest; dicts are built only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from itertools import chain
from itertools import compress
from typing import Any

__all__ = ["CHUNK", "ImageStore", "Schema", "Tables"]

CHUNK_BITS = 8
"""Chunks of 256 slots: 1,000 scattered updates of 1M images copy ~0.5M slot
references per column written (1,024-slot chunks: 1M, and twice the work for
the garbage collector's next full pass over the new chunks)."""
CHUNK = 1 << CHUNK_BITS
MASK = CHUNK - 1
Packed = tuple[Any, ...]
"""Packed attributes: `(value, value, ..., schema id)`."""
ImageDict = dict[str, Any]

_URLS, _ORIGINS, _ATTRS, _CODES = range(4)


class Schema:
    """An ordered tuple of attribute keys, shared by every image using it."""

    __slots__ = ("id", "keys", "slots")

    def __init__(self, schema_id: int, keys: tuple[str, ...]) -> None:
        self.id = schema_id
        self.keys = keys
        self.slots: dict[str, int] = {key: i for i, key in enumerate(keys)}

    def __repr__(self) -> str:
        return f"Schema{self.keys!r}"


class Tables:
    """Interned types dicts and attribute schemas (append-only, fork-shared)."""

    __slots__ = ("by_keys", "codes", "keys", "schemas", "types")

    def __init__(self) -> None:
        self.codes: dict[tuple[tuple[str, bool], ...], int] = {}
        self.types: list[dict[str, Any]] = []
        self.by_keys: dict[tuple[str, ...], Schema] = {}
        self.schemas: list[Schema] = []
        self.keys: list[tuple[str, ...]] = []  # schemas[i].keys, for fast builds

    def code(self, types: Mapping[str, Any]) -> int:
        """The code of a types dict (equal all-boolean dicts share one code)."""
        items = tuple(types.items())
        for _, value in items:
            if type(value) is not bool:
                self.types.append(dict(items))  # never merged: 1 is not True
                return len(self.types) - 1
        code = self.codes.get(items)
        if code is None:
            code = self.codes[items] = len(self.types)
            self.types.append(dict(items))
        return code

    def pack(self, attributes: Mapping[str, Any]) -> Packed:
        """Attributes as `(*values, schema id)` with an interned schema."""
        keys = tuple(attributes)
        schema = self.by_keys.get(keys)
        if schema is None:
            schema = self.by_keys[keys] = Schema(len(self.schemas), keys)
            self.schemas.append(schema)
            self.keys.append(keys)
        return (*attributes.values(), schema.id)

    def unpack(self, packed: Packed) -> dict[str, Any]:
        """A new attributes dict from packed attributes."""
        # zip stops with the keys: the trailing schema id is never paired.
        return dict(zip(self.schemas[packed[-1]].keys, packed, strict=False))

    def attribute(self, packed: Packed, key: str, default: Any = None) -> Any:
        """One attribute of packed attributes (`default` if absent)."""
        slot = self.schemas[packed[-1]].slots.get(key)
        return default if slot is None else packed[slot]

    def merged_code(self, code: int, extra: Mapping[str, Any]) -> int:
        """The code of `{**types(code), **extra}`."""
        return self.code({**self.types[code], **extra}) if extra else code


class ImageStore:
    """One version of an image list in chunked columns (see module docstring)."""

    __slots__ = (
        "_added",
        "_added_own",
        "_base",
        "_base_own",
        "_outer_own",
        "_owned",
        "cols",
        "end",
        "layout",
        "live",
        "tables",
    )

    def __init__(self, tables: Tables | None = None) -> None:
        self.tables = tables if tables is not None else Tables()
        self.cols: list[list[list[Any]]] = [[], [], [], []]
        self.end = 0  # next position
        self.live = 0  # images present
        self._base: dict[str, int] = {}
        self._added: dict[str, int] = {}
        self._base_own = self._added_own = self._outer_own = True
        self._owned: list[set[int]] = [set(), set(), set(), set()]
        self.layout = object()  # replaced when positions change (compaction)

    # --- forks and ownership -------------------------------------------------

    def fork(self) -> ImageStore:
        """A new version sharing everything; both copy a chunk before writing it."""
        new = ImageStore.__new__(ImageStore)
        new.tables = self.tables
        new.cols = self.cols
        new.end, new.live = self.end, self.live
        new._base, new._added = self._base, self._added
        new.layout = self.layout
        for store in (self, new):
            store._base_own = store._added_own = store._outer_own = False
            store._owned = [set(), set(), set(), set()]
        return new

    def _chunk(self, col: int, c: int) -> list[Any]:
        """Chunk `c` of column `col`, copied first if it may be shared."""
        owned = self._owned[col]
        if c in owned:
            return self.cols[col][c]
        if not self._outer_own:
            self.cols = [list(column) for column in self.cols]
            self._outer_own = True
        chunk = self.cols[col][c] = self.cols[col][c][:]
        owned.add(c)
        return chunk

    # --- look-up -------------------------------------------------------------

    def __len__(self) -> int:
        return self.live

    def find(self, url: str) -> int | None:
        """The position of `url`, or None if absent."""
        p = self._added.get(url)
        if p is None:
            p = self._base.get(url)
            if p is None:
                return None
        urls = self.cols[_URLS]
        return p if urls[p >> CHUNK_BITS][p & MASK] == url else None

    def url(self, p: int) -> str:
        return self.cols[_URLS][p >> CHUNK_BITS][p & MASK]  # type: ignore[no-any-return]

    def origin(self, p: int) -> str | None:
        return self.cols[_ORIGINS][p >> CHUNK_BITS][p & MASK]  # type: ignore[no-any-return]

    def packed(self, p: int) -> Packed:
        return self.cols[_ATTRS][p >> CHUNK_BITS][p & MASK]  # type: ignore[no-any-return]

    def code(self, p: int) -> int:
        return self.cols[_CODES][p >> CHUNK_BITS][p & MASK]  # type: ignore[no-any-return]

    def image(self, p: int) -> ImageDict:
        """A new image dict (new attributes and types dicts) for position `p`."""
        c, i = p >> CHUNK_BITS, p & MASK
        urls, origins, attrs, codes = self.cols
        packed = attrs[c][i]
        return {
            "zarr_url": urls[c][i],
            "origin": origins[c][i],
            "attributes": dict(
                zip(self.tables.schemas[packed[-1]].keys, packed, strict=False)
            ),
            "types": self.tables.types[codes[c][i]].copy(),
        }

    def images_at(self, positions: list[int]) -> list[ImageDict]:
        """New image dicts for these positions (columns gathered at C speed)."""
        return self._build(
            zip(*(self._at(col, positions) for col in range(4)), strict=True)
        )

    def images_where(self, selectors: Iterable[object]) -> list[ImageDict]:
        """New image dicts for the positions whose selector is true, in order
        (one C-speed pass over the columns, no position list)."""
        return self._build(compress(self._rows(), selectors))

    def images(self) -> list[ImageDict]:
        """New image dicts for every image, in list order."""
        if self.live == self.end:
            return self._build(self._rows())
        return self.images_where(map(_present, self.column(_URLS)))

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        """(url, origin, packed, code) per slot, holes included."""
        return zip(*map(self.column, range(4)), strict=True)

    def _build(self, rows: Iterable[tuple[Any, ...]]) -> list[ImageDict]:
        """Image dicts from (url, origin, packed, code) rows, one comprehension."""
        keys, types = self.tables.keys, self.tables.types
        # zip without strict: the packed tuple's trailing schema id is never
        # paired, and a keyword argument per image makes zip() ~50% slower.
        return [
            {
                "zarr_url": url,
                "origin": origin,
                "attributes": dict(zip(keys[packed[-1]], packed)),  # noqa: B905
                "types": types[code].copy(),
            }
            for url, origin, packed, code in rows
        ]

    def column(self, col: int) -> Iterator[Any]:
        """Every slot of one column (holes included), in position order."""
        return chain.from_iterable(self.cols[col])

    def positions(self) -> list[int]:
        """Positions of the images present, in list order."""
        if self.live == self.end:
            return list(range(self.end))
        return list(compress(range(self.end), map(_present, self.column(_URLS))))

    def urls(self) -> list[str]:
        """The zarr_urls in list order."""
        column = self.column(_URLS)
        if self.live == self.end:
            return list(column)
        return [url for url in column if url is not None]

    def urls_at(self, positions: list[int]) -> list[str]:
        """The zarr_urls at these positions (C-speed when they are many)."""
        return self._at(_URLS, positions)

    def codes_at(self, positions: list[int]) -> list[int]:
        """The types codes at these positions."""
        return self._at(_CODES, positions)

    def _at(self, col: int, positions: list[int]) -> list[Any]:
        if len(positions) * 16 > self.end:
            return list(map(list(self.column(col)).__getitem__, positions))
        chunks = self.cols[col]
        return [chunks[p >> CHUNK_BITS][p & MASK] for p in positions]

    def codes_column(self) -> Iterator[int]:
        return self.column(_CODES)

    def attrs_column(self) -> Iterator[Packed]:
        return self.column(_ATTRS)

    def urls_column(self) -> Iterator[str | None]:
        return self.column(_URLS)

    # --- changes -------------------------------------------------------------

    def append(self, url: str, origin: str | None, packed: Packed, code: int) -> int:
        """Add a new image at the end (the caller checked it is absent)."""
        p = self.end
        c = p >> CHUNK_BITS
        if c == len(self.cols[_URLS]):
            if not self._outer_own:
                self.cols = [list(column) for column in self.cols]
                self._outer_own = True
            for col, value in enumerate((url, origin, packed, code)):
                self.cols[col].append([value])
                self._owned[col].add(c)
        else:
            for col, value in enumerate((url, origin, packed, code)):
                self._chunk(col, c).append(value)
        self.end += 1
        self.live += 1
        self._index_position(url, p)
        return p

    def _index_position(self, url: str, p: int) -> None:
        if self._base_own:
            self._base[url] = p
            return
        if not self._added_own:
            self._added = dict(self._added)
            self._added_own = True
        self._added[url] = p
        if len(self._added) > max(CHUNK, self.live >> 3):
            self._base = {**self._base, **self._added}
            self._added = {}
            self._base_own = self._added_own = True

    def replace(
        self,
        p: int,
        *,
        origin: Any = None,
        packed: Packed | None = None,
        code: int | None = None,
        set_origin: bool = False,
    ) -> None:
        """Replace some fields of the image at `p` (None: keep)."""
        c, i = p >> CHUNK_BITS, p & MASK
        if set_origin:
            self._chunk(_ORIGINS, c)[i] = origin
        if packed is not None:
            self._chunk(_ATTRS, c)[i] = packed
        if code is not None:
            self._chunk(_CODES, c)[i] = code

    def set_codes(self, positions: list[int], new_codes: list[int]) -> None:
        """Set the types code of many images (positions in any order)."""
        if len(positions) * 16 > self.end:
            flat = list(self.column(_CODES))
            for p, code in zip(positions, new_codes, strict=True):
                flat[p] = code
            if not self._outer_own:
                self.cols = [list(column) for column in self.cols]
                self._outer_own = True
            self.cols[_CODES] = [flat[s : s + CHUNK] for s in range(0, self.end, CHUNK)]
            self._owned[_CODES] = set(range(len(self.cols[_CODES])))
            return
        for p, code in zip(positions, new_codes, strict=True):
            self._chunk(_CODES, p >> CHUNK_BITS)[p & MASK] = code

    def remove(self, p: int) -> None:
        """Remove the image at `p` (leaves a hole; compacts when holes dominate)."""
        c, i = p >> CHUNK_BITS, p & MASK
        self._chunk(_URLS, c)[i] = None
        self._chunk(_ORIGINS, c)[i] = None
        self._chunk(_ATTRS, c)[i] = None
        self._chunk(_CODES, c)[i] = -1  # no type filter matches a hole
        self.live -= 1
        holes = self.end - self.live
        if holes > CHUNK and holes > self.live:
            self._compact()

    def _compact(self) -> None:
        """Rebuild the columns without holes (positions change: new layout)."""
        keep = [p for p, url in enumerate(self.column(_URLS)) if url is not None]
        cols = []
        for col in range(4):
            column = list(self.column(col))
            dense = [column[p] for p in keep]
            cols.append([dense[s : s + CHUNK] for s in range(0, len(dense), CHUNK)])
        self.cols = cols
        self._outer_own = True
        self._owned = [set(range(len(cols[0]))) for _ in range(4)]
        self.end = self.live = len(keep)
        self._base = {url: p for p, url in enumerate(self.column(_URLS))}
        self._added = {}
        self._base_own = self._added_own = True
        self.layout = object()


def _present(url: str | None) -> bool:
    return url is not None
