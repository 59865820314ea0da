"""The image-list update rules: how a task's merged output changes the images.

Works on an ordered `dict[zarr_url, image dict]` (the same layout as inside
`ImageList`), so each update, insertion and removal is O(1) and one task output
costs O(k) for k changes instead of the reference's O(k·N) nested scans.
Atomic: the input mapping is never modified; a new one is returned only if
every update and removal succeeded.

Rules (execution spec §4), for each update `u`, in order:
1. existing image, `u.origin` None or equal to `u.zarr_url`: edit in place
   (keep its origin key if it has one, merge attributes, merge types);
2. existing image, other `u.origin`: rebuild from the origin image's
   attributes/types (empty if the origin is unknown), replacing in place;
3. new image: must lie strictly inside `zarr_dir`; built from the origin (if
   known) and appended, always with an `origin` key.
Attributes set to None are dropped; types precedence is base < `u.types` <
the task's `output_types`. Then removals, each of which must exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from itertools import compress
from operator import ne
from typing import Any
from typing import overload

from ..images.image_list import ImageList
from ..images.index import shared_types
from ..images.store import ImageStore
from ..images.store import Packed
from ..types.urls import url_inside_checker
from ._gc import gc_paused
from .errors import MissingImageError
from .errors import NewImageOutsideZarrDirError
from .outputs import ERROR_CHARS
from .outputs import MergedOutput
from .outputs import excerpt
from .recorder import ImageChanges

__all__ = [
    "AppliedOutput",
    "ImageIndex",
    "ImageRows",
    "ListApplied",
    "apply_task_output",
    "apply_to_list",
    "touch_images",
    "touch_list",
]

ImageDict = dict[str, Any]
ImageIndex = dict[str, ImageDict]


@dataclass
class AppliedOutput:
    """The new image index and what changed (zarr_urls, in application order)."""

    images: ImageIndex
    updated: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # True when `updated` holds distinct zarr_urls whose content did change.
    updated_are_changes: bool = False

    @property
    def num_new_images(self) -> int:
        return len(self.created)


def _merge_attributes(base: Mapping[str, Any], new: Mapping[str, Any]) -> ImageDict:
    """Base attributes updated by the new ones; a None value unsets the key."""
    merged = {**base, **new}
    if any(value is None for value in new.values()):
        return {key: value for key, value in merged.items() if value is not None}
    return merged


def _origin_base(
    images: ImageIndex, origin: str | None
) -> tuple[Mapping[str, Any], Mapping[str, bool]]:
    if origin is None:
        return {}, {}
    origin_image = images.get(origin)
    if origin_image is None:
        return {}, {}
    return origin_image["attributes"], origin_image["types"]


def apply_task_output(
    images: Mapping[str, ImageDict],
    output: MergedOutput,
    *,
    zarr_dir: str,
    output_types: Mapping[str, bool],
    pause_gc: bool = False,
) -> AppliedOutput:
    """Apply `output` to a copy of `images`; return the copy and the changes.

    `output` must already be de-duplicated and checked for unique zarr_urls.
    Raises NewImageOutsideZarrDirError or MissingImageError (both
    TaskOutputApplicationError) and leaves `images` untouched.
    Stored image dicts are shared with the input, never mutated: every changed
    image is a new dict. `pause_gc=True` pauses the process-wide cyclic garbage
    collector meanwhile (faster on huge outputs; see `_gc`).
    """
    with gc_paused(pause_gc):
        return _apply(images, output, zarr_dir=zarr_dir, output_types=output_types)


def _apply(
    images: Mapping[str, ImageDict],
    output: MergedOutput,
    *,
    zarr_dir: str,
    output_types: Mapping[str, bool],
) -> AppliedOutput:
    work: ImageIndex = dict(images)
    result = AppliedOutput(images=work)
    is_inside = url_inside_checker(zarr_dir)
    out_types = dict(output_types)
    for update in output.image_list_updates:
        zarr_url: str = update["zarr_url"]
        origin: str | None = update.get("origin")
        existing = work.get(zarr_url)
        if existing is not None:
            if origin is None or origin == zarr_url:
                new_image: ImageDict = {"zarr_url": zarr_url}
                if "origin" in existing:
                    new_image["origin"] = existing["origin"]
                base_attrs, base_types = existing["attributes"], existing["types"]
            else:
                new_image = {"zarr_url": zarr_url, "origin": origin}
                base_attrs, base_types = _origin_base(work, origin)
            new_image["attributes"] = _merge_attributes(
                base_attrs, update.get("attributes") or {}
            )
            new_image["types"] = shared_types(
                {**base_types, **(update.get("types") or {}), **out_types}
            )
            work[zarr_url] = new_image
            result.updated.append(zarr_url)
        else:
            if not is_inside(zarr_url):
                raise NewImageOutsideZarrDirError(
                    "Cannot create image if zarr_url is not a subfolder of "
                    f"zarr_dir.\nzarr_dir: {excerpt(zarr_dir, ERROR_CHARS)}\n"
                    f"zarr_url: {excerpt(zarr_url, ERROR_CHARS)}"
                )
            base_attrs, base_types = _origin_base(work, origin)
            work[zarr_url] = {
                "zarr_url": zarr_url,
                "origin": origin,
                "attributes": _merge_attributes(
                    base_attrs, update.get("attributes") or {}
                ),
                "types": shared_types(
                    {**base_types, **(update.get("types") or {}), **out_types}
                ),
            }
            result.created.append(zarr_url)
    for zarr_url in output.image_list_removals:
        if zarr_url not in work:
            raise MissingImageError(
                "Cannot remove missing image "
                f"(zarr_url={excerpt(zarr_url, ERROR_CHARS)})."
            )
        del work[zarr_url]
        result.removed.append(zarr_url)
    return result


def touch_images(
    images: Mapping[str, ImageDict],
    zarr_urls: Iterable[str],
    *,
    output_types: Mapping[str, bool],
) -> AppliedOutput:
    """Apply an empty update to each of `zarr_urls` (all present in `images`).

    The result of `apply_task_output` with `{"zarr_url": url}` updates (a task
    that returned nothing: its `output_types` reach every input image), at a
    fraction of the cost: the new types dict is computed once per distinct
    types dict, and an image whose types do not change keeps its dict.
    `updated` lists only the images whose content changed.
    """
    work: ImageIndex = dict(images)
    result = AppliedOutput(images=work, updated_are_changes=True)
    if not output_types:
        return result
    out_types = dict(output_types)
    transitions: dict[int, tuple[dict[str, bool], dict[str, bool] | None]] = {}
    for zarr_url in zarr_urls:
        image = work[zarr_url]
        types = image["types"]
        known = transitions.get(id(types))
        if known is None:
            merged = {**types, **out_types}
            new_types = None if merged == types else shared_types(merged)
            known = transitions[id(types)] = (types, new_types)
        new_types = known[1]
        if new_types is not None:
            work[zarr_url] = {**image, "types": new_types}
            result.updated.append(zarr_url)
    return result


# --- the same rules on an ImageList's compact store (the engine's path) ------


@dataclass
class ListApplied:
    """A new ImageList version and what changed (zarr_urls in application order).

    `updated` holds distinct zarr_urls whose content changed (or that were
    created earlier in the same output); `changes()` gives the recorder's
    `ImageChanges` with image dicts built one at a time when read.
    """

    images: ImageList
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated_positions: list[int] | None = None

    @property
    def num_new_images(self) -> int:
        return len(self.created)

    def changes(self) -> ImageChanges:
        """What changed, as the recorder's `ImageChanges` (rows built lazily)."""
        store = self.images._fork()
        created = [p for p in map(store.find, self.created) if p is not None]
        updated = self.updated_positions
        if updated is None:
            updated = [p for p in map(store.find, self.updated) if p is not None]
        return ImageChanges(
            created=ImageRows(store, created),
            updated=ImageRows(store, updated),
            removed=list(self.removed),
        )


class ImageRows(Sequence[ImageDict]):
    """Image dicts of some positions of a store version, built when read."""

    __slots__ = ("_positions", "_store")

    def __init__(self, store: ImageStore, positions: list[int]) -> None:
        self._store = store
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, i: int) -> ImageDict: ...
    @overload
    def __getitem__(self, i: slice) -> list[ImageDict]: ...
    def __getitem__(self, i: int | slice) -> ImageDict | list[ImageDict]:
        if isinstance(i, slice):
            return [self._store.image(p) for p in self._positions[i]]
        return self._store.image(self._positions[i])

    def __iter__(self) -> Iterator[ImageDict]:
        return map(self._store.image, self._positions)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ImageRows(len={len(self)})"


def touch_list(
    images: ImageList, positions: list[int], *, output_types: Mapping[str, bool]
) -> ListApplied:
    """`touch_images` on an ImageList: the selected positions get `output_types`.

    One new types code per distinct old code; only the codes column chunks
    that hold a changed image are copied. No image dict is built.
    """
    store = images._fork()
    result = ListApplied(images=ImageList._from_store(store), updated_positions=[])
    if not output_types:
        return result
    tables = store.tables
    out_types = dict(output_types)
    old_codes = store.codes_at(positions)
    transitions = {old: tables.merged_code(old, out_types) for old in set(old_codes)}
    for old, new in list(transitions.items()):
        if tables.types[new] == tables.types[old]:
            transitions[old] = old  # unchanged content keeps its code
    new_codes = list(map(transitions.__getitem__, old_codes))
    is_changed = list(map(ne, old_codes, new_codes))
    changed = list(compress(positions, is_changed))
    store.set_codes(changed, list(compress(new_codes, is_changed)))
    result.updated_positions = changed
    result.updated = store.urls_at(changed)
    return result


def apply_to_list(
    images: ImageList,
    output: MergedOutput,
    *,
    zarr_dir: str,
    output_types: Mapping[str, bool],
) -> ListApplied:
    """`apply_task_output` on an ImageList: a new version, O(k) for k changes.

    Same rules and errors; `images` is left unchanged (the work happens on an
    O(1) fork, dropped on error).
    """
    store = images._fork()
    before = images._store
    result = ListApplied(images=ImageList._from_store(store))
    is_inside = url_inside_checker(zarr_dir)
    editor = _Editor(store, dict(output_types))
    for update in output.image_list_updates:
        zarr_url: str = update["zarr_url"]
        p = store.find(zarr_url)
        if p is None:
            if not is_inside(zarr_url):
                raise NewImageOutsideZarrDirError(
                    "Cannot create image if zarr_url is not a subfolder of "
                    f"zarr_dir.\nzarr_dir: {excerpt(zarr_dir, ERROR_CHARS)}\n"
                    f"zarr_url: {excerpt(zarr_url, ERROR_CHARS)}"
                )
            editor.create(update)
            result.created.append(zarr_url)
        elif editor.edit(p, update, before):
            result.updated.append(zarr_url)
    for zarr_url in output.image_list_removals:
        p = store.find(zarr_url)
        if p is None:
            raise MissingImageError(
                "Cannot remove missing image "
                f"(zarr_url={excerpt(zarr_url, ERROR_CHARS)})."
            )
        store.remove(p)
        result.removed.append(zarr_url)
    return result


class _Editor:
    """The update rules on one store version (see the module docstring)."""

    def __init__(self, store: ImageStore, out_types: dict[str, bool]) -> None:
        self.store = store
        self.tables = store.tables
        self.out_types = out_types
        self._codes: dict[int, int] = {}  # old code -> code with output_types

    def _code(self, base: int, types: Mapping[str, Any] | None) -> int:
        if types:
            return self.tables.code(
                {**self.tables.types[base], **types, **self.out_types}
            )
        code = self._codes.get(base)
        if code is None:
            code = self._codes[base] = self.tables.merged_code(base, self.out_types)
        return code

    def _packed(self, base: Packed, attributes: Mapping[str, Any] | None) -> Packed:
        if not attributes:
            return base
        return self.tables.pack(_merge_attributes(self.tables.unpack(base), attributes))

    def _origin_base(self, origin: str | None) -> tuple[Packed, int]:
        p = None if origin is None else self.store.find(origin)
        if p is None:
            return self.tables.pack({}), self.tables.code({})
        return self.store.packed(p), self.store.code(p)

    def create(self, update: Mapping[str, Any]) -> None:
        origin = update.get("origin")
        packed, code = self._origin_base(origin)
        self.store.append(
            update["zarr_url"],
            origin,
            self._packed(packed, update.get("attributes")),
            self._code(code, update.get("types")),
        )

    def edit(self, p: int, update: Mapping[str, Any], before: ImageStore) -> bool:
        """Edit the image at `p`; True if its content changed (or it is new)."""
        store = self.store
        zarr_url, origin = update["zarr_url"], update.get("origin")
        own = origin is None or origin == zarr_url
        old = (store.origin(p), store.packed(p), store.code(p))
        packed, code = (old[1], old[2]) if own else self._origin_base(origin)
        new_origin = old[0] if own else origin
        packed = self._packed(packed, update.get("attributes"))
        code = self._code(code, update.get("types"))
        store.replace(
            p,
            origin=new_origin,
            packed=None if packed is old[1] else packed,
            code=None if code == old[2] else code,
            set_origin=new_origin != old[0],
        )
        q = before.find(zarr_url)
        if q is None:
            return True  # created earlier in this output
        return not _same_content(before, q, (new_origin, packed, code), self.tables)


def _same_content(
    store: ImageStore, p: int, new: tuple[str | None, Packed, int], tables: Any
) -> bool:
    origin, packed, code = new
    if store.origin(p) != origin:
        return False
    old_packed, old_code = store.packed(p), store.code(p)
    if old_code != code and tables.types[old_code] != tables.types[code]:
        return False
    return old_packed is packed or tables.unpack(old_packed) == tables.unpack(packed)
