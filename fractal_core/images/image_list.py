"""`ImageList`: an ordered image list with an index by zarr_url.

Images are stored compactly in an `ImageStore` (see `images.store`): chunked
columns of zarr_url, origin, packed attributes `(schema, *values)` with shared
key schemas, and a small int code per distinct types dict. At rest an image
costs a few hundred bytes and no dict; look-up, insertion, update and removal
are O(1). Everything handed out (`__iter__`, `__getitem__`, `to_list`,
`filter`) is a new dict that callers may mutate freely.

`copy()` is O(1): both lists share the store's chunks, and a change copies only
the chunk it writes, so a copy changing k images costs O(k).

Filters: a type filter first compares each distinct types dict (a handful),
then collects the matching positions from the types column in one C-speed pass
(or from the index by type code for a selective answer); an attribute filter
uses an index by attribute value. Both indexes are built on first use and
kept up to date by every change, so a selective filter costs O(k log k).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from itertools import compress
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic import TypeAdapter
from pydantic_core import core_schema
from typing_extensions import TypedDict

from fractal_core.types import ImageAttributesWithNone
from fractal_core.types import ImageTypes
from fractal_core.types import validate_filters
from fractal_core.views import html as views_html
from fractal_core.views import text as views_text

from ._input import ATTRIBUTE_TYPES
from ._input import BOOL_TYPE
from ._input import already_valid
from ._input import image_fields
from ._scan import code_matches
from ._scan import code_positions
from ._scan import same_images
from ._scan import scan_positions
from ._scan import select_stored
from .errors import DuplicateImageError
from .errors import ImageNotFoundError
from .index import TYPES
from .index import PositionIndex
from .models import SingleImage
from .store import ImageStore
from .store import Packed

__all__ = ["ImageList", "ImageRecord", "select_stored"]

ImageDict = dict[str, Any]


class ImageRecord(TypedDict):
    """Shape of a stored image dict (used for the serialisation schema)."""

    zarr_url: str
    origin: str | None
    attributes: dict[str, Any]
    types: dict[str, bool]


_ATTRIBUTES_UPDATE = TypeAdapter(ImageAttributesWithNone)
_TYPES_UPDATE = TypeAdapter(ImageTypes)
_SCAN_ABOVE = 1024
"""Lists above this size scan instead of sorting more than 1/8 of the images."""


def _rebuilt(images: list[ImageDict], validate: bool) -> ImageList:
    """Unpickling: the list from its images (already valid)."""
    new = ImageList(images, validate=False)
    new._validate = validate
    return new


class ImageList:
    """Ordered collection of images indexed by zarr_url (see module docstring)."""

    __slots__ = ("_index", "_store", "_validate")

    def __init__(
        self,
        images: Iterable[Mapping[str, Any] | SingleImage] = (),
        *,
        validate: bool = True,
    ) -> None:
        self._validate = validate
        self._index: PositionIndex | None = None
        store = self._store = ImageStore()
        pack, code, find, append = (
            store.tables.pack,
            store.tables.code,
            store.find,
            store.append,
        )
        for image in images:
            url, origin, attributes, types = image_fields(image, validate)
            if find(url) is not None:
                raise DuplicateImageError(url)
            append(url, origin, pack(attributes), code(types))

    @classmethod
    def trusted(cls, images: Iterable[Mapping[str, Any]]) -> ImageList:
        """Load already-validated images (e.g. from storage) without validating
        them again; later changes (`add`, `set`, `update`) are validated."""
        return cls(images, validate=False)._revalidating()

    @classmethod
    def _from_store(cls, store: ImageStore, validate: bool = True) -> ImageList:
        """Wrap a store without copying or validating it (the list owns it)."""
        new = cls.__new__(cls)
        new._store = store
        new._validate = validate
        new._index = None
        return new

    def _fork(self) -> ImageStore:
        """A fork of the store (O(1)) for the engine to change; this list keeps
        its own version."""
        return self._store.fork()

    def _shared_store(self) -> dict[str, ImageDict]:
        """The images as a new ordered zarr_url -> image dict mapping (O(N))."""
        store = self._store
        return {store.url(p): store.image(p) for p in store.positions()}

    # --- read access -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[ImageDict]:
        image = self._store.image
        for p in self._store.positions():
            yield image(p)

    def __contains__(self, zarr_url: object) -> bool:
        return type(zarr_url) is str and self._store.find(zarr_url) is not None

    def _position(self, zarr_url: str) -> int:
        p = self._store.find(zarr_url) if type(zarr_url) is str else None
        if p is None:
            raise ImageNotFoundError(zarr_url)
        return p

    def __getitem__(self, zarr_url: str) -> ImageDict:
        return self._store.image(self._position(zarr_url))

    def get(self, zarr_url: str, default: Any = None) -> Any:
        """The image with this zarr_url (a copy), or `default`."""
        p = self._store.find(zarr_url) if type(zarr_url) is str else None
        return default if p is None else self._store.image(p)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ImageList):
            return same_images(self._store, other._store)
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == len(self) and all(
                a == b for a, b in zip(self, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable container

    def __repr__(self) -> str:
        return views_text.image_list_repr(self)

    def _repr_html_(self) -> str:
        return views_html.image_list_html(self)

    def zarr_urls(self) -> list[str]:
        """The zarr_urls in list order."""
        return self._store.urls()

    def to_list(self) -> list[ImageDict]:
        """A new list of image copies, safe to mutate."""
        return self._store.images()

    def copy(self) -> ImageList:
        """An independent copy in O(1): both share the store copy-on-write."""
        return ImageList._from_store(self._store.fork(), self._validate)

    def __copy__(self) -> ImageList:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> ImageList:
        return self.copy()  # stored images are never mutated in place

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (self.to_list(), self._validate)

    # --- changes -----------------------------------------------------------

    def add(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Append a new image; DuplicateImageError if its zarr_url is present."""
        url, origin, attributes, types = image_fields(image, self._validate)
        if self._store.find(url) is not None:
            raise DuplicateImageError(url)
        self._append(url, origin, attributes, types)

    def _append(
        self,
        url: str,
        origin: str | None,
        attributes: Mapping[str, Any],
        types: Mapping[str, Any],
    ) -> None:
        store = self._store
        packed, code = store.tables.pack(attributes), store.tables.code(types)
        p = store.append(url, origin, packed, code)
        if self._index is not None:
            self._index.added(p, packed, code)

    def set(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Insert the image, or replace the one with its zarr_url in place."""
        url, origin, attributes, types = image_fields(image, self._validate)
        p = self._store.find(url)
        if p is None:
            self._append(url, origin, attributes, types)
            return
        tables = self._store.tables
        self._replace(p, tables.pack(attributes), tables.code(types), origin, True)

    def _replace(
        self,
        p: int,
        packed: Packed,
        code: int,
        origin: str | None = None,
        set_origin: bool = False,
    ) -> None:
        """Replace the content at position `p`, keeping the indexes."""
        store = self._store
        if self._index is not None:
            self._index.replaced(p, (store.packed(p), store.code(p)), (packed, code))
        store.replace(p, origin=origin, packed=packed, code=code, set_origin=set_origin)

    def update(
        self,
        zarr_url: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        types: Mapping[str, bool] | None = None,
    ) -> None:
        """Merge attributes/types into an existing image (key by key).

        An attribute whose new value is None is removed, as the engine does
        with task outputs. ImageNotFoundError if the zarr_url is absent.
        """
        p = self._position(zarr_url)
        store = self._store
        packed, code = store.packed(p), store.code(p)
        if attributes:
            if self._validate and not already_valid(attributes, ATTRIBUTE_TYPES):
                attributes = _ATTRIBUTES_UPDATE.validate_python(attributes)
            merged = store.tables.unpack(packed)
            for key, value in attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            packed = store.tables.pack(merged)
        if types:
            if self._validate and not already_valid(types, BOOL_TYPE):
                types = _TYPES_UPDATE.validate_python(types)
            code = store.tables.merged_code(code, types)
        self._replace(p, packed, code)

    def remove(self, zarr_url: str) -> None:
        """Remove the image; ImageNotFoundError if the zarr_url is absent."""
        p = self._position(zarr_url)
        store = self._store
        if self._index is not None:
            self._index.removed(p, store.packed(p), store.code(p))
        store.remove(p)
        if self._index is not None and self._index.layout is not store.layout:
            self._index = None  # compacted: positions changed

    # --- queries -----------------------------------------------------------

    def filter(
        self,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    ) -> list[ImageDict]:
        """Images matching the filters, in order; returned images are copies.

        Filters are first read by `validate_filters` (as `run_job` reads them:
        `{"3D": "true"}` means True; bad filters raise `FilterError` naming key
        and value); on valid filters the result is `filter_image_list`'s.
        """
        valid_types, valid_attributes = validate_filters(
            type_filters, attribute_filters
        )
        store = self._store
        matches = self._broad_type_matches(valid_types, valid_attributes)
        if matches is not None:
            images = store.images_where(matches)
            self._answer_seen(len(images))
            return images
        return store.images_at(self._select_valid(valid_types, valid_attributes))

    def filter_zarr_urls(
        self,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    ) -> list[str]:
        """The zarr_urls of `filter(...)` (same filter reading), no image built."""
        valid_types, valid_attributes = validate_filters(
            type_filters, attribute_filters
        )
        store = self._store
        matches = self._broad_type_matches(valid_types, valid_attributes)
        if matches is not None:
            urls: list[str] = list(compress(store.urls_column(), matches))  # type: ignore[arg-type]
            self._answer_seen(len(urls))
            return urls
        return store.urls_at(self._select_valid(valid_types, valid_attributes))

    def _broad_type_matches(
        self,
        type_filters: Mapping[str, Any],
        attribute_filters: Mapping[str, Sequence[Any]],
    ) -> Iterator[bool] | None:
        """Per position, whether it matches type-only filters the type index
        would not answer (a large answer: one C-speed pass); else None."""
        if not type_filters or attribute_filters:
            return None
        codes = self._ok_codes(tuple(type_filters.items()))
        return None if self._selective(codes) else code_matches(self._store, codes)

    def _select_valid(
        self,
        type_filters: Mapping[str, Any],
        attribute_filters: Mapping[str, Sequence[Any]],
    ) -> list[int]:
        """Positions matching already-validated filters, in list order."""
        wanted_attrs = tuple(attribute_filters.items())
        store = self._store
        codes = self._ok_codes(tuple(type_filters.items())) if type_filters else None
        if codes is not None and not codes:
            return []
        if codes is None and not wanted_attrs:
            return store.positions()
        found = self._indexed(codes, wanted_attrs)
        if found is not None:
            return found
        positions = code_positions(store, codes)
        if not wanted_attrs:
            self._answer_seen(len(positions))
            return positions
        return scan_positions(store, positions, wanted_attrs)

    def _select_split(
        self,
        type_filters: Mapping[str, Any],
        attribute_filters: Mapping[str, Sequence[Any]],
    ) -> tuple[int, list[int]]:
        """(how many images match the type filters, positions matching all).

        For the engine's selection (valid filters); one C-speed pass over the
        types column, then the attribute filters on those images only.
        """
        store = self._store
        codes = self._ok_codes(tuple(type_filters.items())) if type_filters else None
        typed = code_positions(store, codes)
        if not attribute_filters:
            return len(typed), typed
        return len(typed), scan_positions(
            store, typed, tuple(attribute_filters.items())
        )

    def _ok_codes(self, wanted_types: tuple[tuple[str, Any], ...]) -> frozenset[int]:
        """The types codes whose dict satisfies every type filter."""
        return frozenset(
            code
            for code, types in enumerate(self._store.tables.types)
            if all(types.get(key, False) == value for key, value in wanted_types)
        )

    def _get_index(self) -> PositionIndex:
        index = self._index
        if index is None or index.layout is not self._store.layout:
            index = self._index = PositionIndex(self._store)
        return index

    def _selective(self, codes: frozenset[int]) -> bool:
        """Whether the index by type code answers (built once a small answer is
        seen: large answers come faster from one pass over the codes column)."""
        index = self._index
        if index is None or TYPES not in index.buckets:
            return False
        found = index.candidates(self._store, TYPES, sorted(codes))
        return found is not None and not self._too_large(found)

    def _answer_seen(self, size: int) -> None:
        """After a type-filter scan: index types codes if the answer was small."""
        n = len(self._store)
        if n > _SCAN_ABOVE and size * 8 <= n:
            self._get_index().candidates(self._store, TYPES, ())

    def _too_large(self, buckets: list[dict[int, None]]) -> bool:
        n = len(self._store)
        return n > _SCAN_ABOVE and sum(map(len, buckets)) * 8 > n

    def _indexed(
        self,
        codes: frozenset[int] | None,
        wanted_attrs: tuple[tuple[str, Sequence[Any]], ...],
    ) -> list[int] | None:
        """The matches through the indexes, or None to scan instead.

        Candidates come from the smallest exact filter's buckets; the other
        filters are then checked on each candidate.
        """
        index = self._get_index()
        store = self._store
        best: tuple[int, list[dict[int, None]], str] | None = None
        keys: list[tuple[str, Sequence[Any]]] = list(wanted_attrs)
        if codes is not None:
            keys.insert(0, (TYPES, sorted(codes)))
        for key, values in keys:
            if key == TYPES and key not in index.buckets:
                continue  # built below, once an answer shows it is selective
            found = index.candidates(store, key, values)
            if found is not None:
                size = sum(map(len, found))
                if best is None or size < best[0]:
                    best = (size, found, key)
        if best is None or self._too_large(best[1]):
            return None
        positions = index.ordered(best[1])
        rest = tuple(item for item in wanted_attrs if item[0] != best[2])
        if best[2] != TYPES and codes is not None:
            positions = [p for p in positions if store.code(p) in codes]
        if rest:
            positions = scan_positions(store, positions, rest)
        return positions

    # --- pydantic integration ---------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validate from a list of images (or an ImageList); dump to a list."""
        list_schema = core_schema.list_schema(handler.generate_schema(SingleImage))

        def validate(
            value: Any, inner: core_schema.ValidatorFunctionWrapHandler
        ) -> ImageList:
            if isinstance(value, ImageList):
                return value
            models = inner(value)
            return cls.trusted(m.model_dump() for m in models)

        return core_schema.no_info_wrap_validator_function(
            validate,
            list_schema,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: value.to_list(),
                return_schema=core_schema.list_schema(
                    handler.generate_schema(ImageRecord)
                ),
            ),
        )

    def _revalidating(self) -> ImageList:
        """Switch validation on for later changes (after a trusted bulk load)."""
        self._validate = True
        return self
