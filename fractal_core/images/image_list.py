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
from math import isfinite
from typing import Any
from typing import TypeVar

from pydantic import BaseModel
from pydantic import GetCoreSchemaHandler
from pydantic import TypeAdapter
from pydantic_core import core_schema
from typing_extensions import TypedDict

from fractal_core.types import ImageAttributesWithNone
from fractal_core.types import ImageTypes
from fractal_core.types import normalize_url
from fractal_core.types import validate_filters
from fractal_core.views import html as views_html
from fractal_core.views import text as views_text

from .errors import DuplicateImageError
from .errors import ImageNotFoundError
from .index import TYPES
from .index import PositionIndex
from .models import SingleImage
from .store import ImageStore
from .store import Packed

__all__ = ["ImageList", "ImageRecord", "select_stored"]

ImageDict = dict[str, Any]
Fields = tuple[str, "str | None", Mapping[str, Any], Mapping[str, Any]]
_M = TypeVar("_M", bound=Mapping[str, Any])


class ImageRecord(TypedDict):
    """Shape of a stored image dict (used for the serialisation schema)."""

    zarr_url: str
    origin: str | None
    attributes: dict[str, Any]
    types: dict[str, bool]


_ATTRIBUTES_UPDATE = TypeAdapter(ImageAttributesWithNone)
_TYPES_UPDATE = TypeAdapter(ImageTypes)
_ATTRIBUTE_TYPES: frozenset[type] = frozenset({int, float, str, bool, type(None)})
_STORED_ATTRIBUTE_TYPES = frozenset({int, float, str, bool})
_BOOL_TYPE = frozenset({bool})
_SCAN_ABOVE = 1024
"""Lists above this size scan instead of sorting more than 1/8 of the images."""


def _already_valid(values: Mapping[str, Any], value_types: frozenset[type]) -> bool:
    """True if pydantic validation would return `values` unchanged.

    Fast path for updates: stripped non-empty str keys, values of exactly the
    allowed types. Anything else goes through the pydantic validator.
    """
    if type(values) is not dict:
        return False
    for key, value in values.items():
        if type(value) not in value_types or type(key) is not str:
            return False
        if not key or key.strip() != key:
            return False
        if type(value) is float and not isfinite(value):
            return False  # NaN/inf: the validator refuses them
    return True


def _fields(image: Mapping[str, Any] | SingleImage, validate: bool) -> Fields:
    """User input as (zarr_url, origin, attributes, types), validated if asked."""
    if not validate and type(image) is dict:
        # Fast path for trusted bulk loads of plain dicts.
        return (
            image["zarr_url"],
            image.get("origin"),
            image.get("attributes") or {},
            image.get("types") or {},
        )
    if validate:
        canonical = _canonical_image(image)
        if canonical is not None:
            return canonical
    if isinstance(image, BaseModel):
        image = image.model_dump()
    if validate:
        image = SingleImage.model_validate(image).model_dump()
    return (
        image["zarr_url"],
        image.get("origin"),
        image.get("attributes") or {},
        image.get("types") or {},
    )


def _canonical_image(image: object) -> Fields | None:
    """The fields of `image` if validating it would change nothing, else None.

    Fast path (about 10x cheaper than pydantic) for the common case of plain
    dicts that are already valid and normalised, e.g. files written by us.
    """
    if type(image) is not dict:
        return None
    zarr_url = image.get("zarr_url")
    origin = image.get("origin")
    attributes = image.get("attributes", {})
    types = image.get("types", {})
    if type(zarr_url) is not str or not (origin is None or type(origin) is str):
        return None
    if not _already_valid(attributes, _STORED_ATTRIBUTE_TYPES):
        return None
    if not _already_valid(types, _BOOL_TYPE):
        return None
    try:
        if normalize_url(zarr_url) != zarr_url:
            return None
        if origin is not None and normalize_url(origin) != origin:
            return None
    except ValueError:
        return None
    return zarr_url, origin, attributes, types


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
            url, origin, attributes, types = _fields(image, validate)
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
            return _same_images(self._store, other._store)
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
        return self._store.images_at(self._store.positions())

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
        url, origin, attributes, types = _fields(image, self._validate)
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
        url, origin, attributes, types = _fields(image, self._validate)
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
            if self._validate and not _already_valid(attributes, _ATTRIBUTE_TYPES):
                attributes = _ATTRIBUTES_UPDATE.validate_python(attributes)
            merged = store.tables.unpack(packed)
            for key, value in attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            packed = store.tables.pack(merged)
        if types:
            if self._validate and not _already_valid(types, _BOOL_TYPE):
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
        return self._store.images_at(self._matching(type_filters, attribute_filters))

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
        if valid_types and not valid_attributes:
            codes = self._ok_codes(tuple(valid_types.items()))
            if not self._selective(codes):
                urls: list[str] = list(
                    compress(store.urls_column(), _code_matches(store, codes))  # type: ignore[arg-type]
                )
                self._answer_seen(len(urls))
                return urls
        return store.urls_at(self._select_valid(valid_types, valid_attributes))

    def _matching(
        self,
        type_filters: Mapping[str, bool] | None,
        attribute_filters: Mapping[str, Sequence[Any]] | None,
    ) -> list[int]:
        """Positions of the images matching the filters, in list order."""
        valid_types, valid_attributes = validate_filters(
            type_filters, attribute_filters
        )
        return self._select_valid(valid_types, valid_attributes)

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
        positions = _code_positions(store, codes)
        if not wanted_attrs:
            self._answer_seen(len(positions))
            return positions
        return _scan_positions(store, positions, wanted_attrs)

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
        typed = _code_positions(store, codes)
        if not attribute_filters:
            return len(typed), typed
        return len(typed), _scan_positions(
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
            positions = _scan_positions(store, positions, rest)
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


def _same_images(a: ImageStore, b: ImageStore) -> bool:
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


def _code_positions(store: ImageStore, codes: frozenset[int] | None) -> list[int]:
    """Positions whose types code is in `codes` (all if None), one C-speed pass."""
    if codes is None:
        return store.positions()
    return list(compress(range(store.end), _code_matches(store, codes)))


def _code_matches(store: ImageStore, codes: frozenset[int]) -> Iterator[bool]:
    """Per position, whether its types code is one of `codes` (holes never are)."""
    if len(codes) == 1:
        (code,) = codes
        return map(code.__eq__, store.codes_column())
    return map(codes.__contains__, store.codes_column())


def _scan_positions(
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
