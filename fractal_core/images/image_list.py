"""`ImageList`: an ordered image list with an index by zarr_url.

Images are stored as plain dicts {zarr_url, origin, attributes, types} in a dict
keyed by zarr_url, whose insertion order is the list order. Look-up, insertion,
update and removal are O(1). Equal types dicts are stored once and shared.

Stored dicts are never mutated in place: every change builds a new dict and
replaces the old one. The zarr_url index itself is copy-on-write: `copy()` and
the engine share it, and the first change after sharing copies it, so copies
stay isolated. Everything handed out (`__iter__`, `__getitem__`, `to_list`,
`filter`) is a copy that callers may mutate freely.

Filters: a type filter is one pass over the images; an attribute filter uses
an index by attribute value (built on first use for that key, then kept up to
date by every change), so a selective filter costs O(k log k) for k matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
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
from .index import AttributeIndex
from .index import shared_types
from .models import SingleImage

__all__ = ["ImageList", "ImageRecord", "select_stored"]

ImageDict = dict[str, Any]
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


def _copy_image(image: Mapping[str, Any]) -> ImageDict:
    """A copy whose nested attributes/types dicts are copies too."""
    return {
        "zarr_url": image["zarr_url"],
        "origin": image["origin"],
        "attributes": image["attributes"].copy(),
        "types": image["types"].copy(),
    }


def _as_image_dict(image: Mapping[str, Any] | SingleImage, validate: bool) -> ImageDict:
    """Turn user input into a stored image dict (validated if requested)."""
    if not validate and type(image) is dict:
        # Fast path for trusted bulk loads of plain dicts.
        attributes = image.get("attributes")
        types = image.get("types")
        return {
            "zarr_url": image["zarr_url"],
            "origin": image.get("origin"),
            "attributes": {} if attributes is None else attributes.copy(),
            "types": {} if types is None else shared_types(types),
        }
    if validate:
        canonical = _canonical_image(image)
        if canonical is not None:
            return canonical
    if isinstance(image, BaseModel):
        image = image.model_dump()
    if validate:
        dumped = SingleImage.model_validate(image).model_dump()
        dumped["types"] = shared_types(dumped["types"])
        return dumped
    return {
        "zarr_url": image["zarr_url"],
        "origin": image.get("origin"),
        "attributes": dict(image.get("attributes") or {}),
        "types": shared_types(image.get("types") or {}),
    }


def _canonical_image(image: object) -> ImageDict | None:
    """The stored form of `image` if validating it would change nothing, else None.

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
    return {
        "zarr_url": zarr_url,
        "origin": origin,
        "attributes": attributes.copy(),
        "types": shared_types(types),
    }


class ImageList:
    """Ordered collection of images indexed by zarr_url (see module docstring)."""

    __slots__ = ("_images", "_index", "_shared", "_validate")

    def __init__(
        self,
        images: Iterable[Mapping[str, Any] | SingleImage] = (),
        *,
        validate: bool = True,
    ) -> None:
        self._validate = validate
        self._images: dict[str, ImageDict] = {}
        self._shared = False
        self._index: AttributeIndex | None = None
        store = self._images
        for image in images:
            new = _as_image_dict(image, validate)
            url = new["zarr_url"]
            if url in store:
                raise DuplicateImageError(url)
            store[url] = new

    @classmethod
    def trusted(cls, images: Iterable[Mapping[str, Any]]) -> ImageList:
        """Load already-validated images (e.g. from storage) without validating
        them again; later changes (`add`, `set`, `update`) are validated."""
        return cls(images, validate=False)._revalidating()

    @classmethod
    def _from_trusted(
        cls, images: dict[str, ImageDict], validate: bool = True
    ) -> ImageList:
        """Wrap an already-built index without copying or validating it.

        The new list owns `images`: the caller must not change it afterwards.
        """
        new = cls.__new__(cls)
        new._images = images
        new._validate = validate
        new._shared = False
        new._index = None
        return new

    @classmethod
    def _sharing(cls, images: dict[str, ImageDict]) -> ImageList:
        """Wrap `images` copy-on-write: its first change copies the index."""
        new = cls._from_trusted(images)
        new._shared = True
        return new

    def _shared_store(self) -> dict[str, ImageDict]:
        """The zarr_url index, shared read-only (this list copies it before
        its next change); its image dicts must never be mutated."""
        self._shared = True
        return self._images

    def _own(self) -> dict[str, ImageDict]:
        """The zarr_url index, copied first if it is shared."""
        if self._shared:
            self._images = dict(self._images)
            self._shared = False
        return self._images

    # --- read access -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._images)

    def __iter__(self) -> Iterator[ImageDict]:
        for image in self._images.values():
            yield _copy_image(image)

    def __contains__(self, zarr_url: object) -> bool:
        return zarr_url in self._images

    def __getitem__(self, zarr_url: str) -> ImageDict:
        try:
            return _copy_image(self._images[zarr_url])
        except KeyError:
            raise ImageNotFoundError(zarr_url) from None

    def get(self, zarr_url: str, default: Any = None) -> Any:
        """The image with this zarr_url (a copy), or `default`."""
        image = self._images.get(zarr_url)
        return default if image is None else _copy_image(image)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ImageList):
            return list(self._images) == list(other._images) and all(
                image == other._images[url] for url, image in self._images.items()
            )
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == len(self._images) and all(
                a == b for a, b in zip(self._images.values(), other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable container

    def __repr__(self) -> str:
        return views_text.image_list_repr(self)

    def _repr_html_(self) -> str:
        return views_html.image_list_html(self)

    def zarr_urls(self) -> list[str]:
        """The zarr_urls in list order."""
        return list(self._images)

    def to_list(self) -> list[ImageDict]:
        """A new list of image copies, safe to mutate."""
        return [_copy_image(image) for image in self._images.values()]

    def copy(self) -> ImageList:
        """An independent copy in O(1): both share the index copy-on-write."""
        new = ImageList._from_trusted(self._shared_store(), self._validate)
        new._shared = True
        return new

    def __copy__(self) -> ImageList:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> ImageList:
        return ImageList._from_trusted(
            {url: _copy_image(image) for url, image in self._images.items()},
            self._validate,
        )

    # --- changes -----------------------------------------------------------

    def add(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Append a new image; DuplicateImageError if its zarr_url is present."""
        new = _as_image_dict(image, self._validate)
        if new["zarr_url"] in self._images:
            raise DuplicateImageError(new["zarr_url"])
        self._store(new["zarr_url"], new)

    def set(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Insert the image, or replace the one with its zarr_url in place."""
        new = _as_image_dict(image, self._validate)
        self._store(new["zarr_url"], new)

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
        try:
            old = self._images[zarr_url]
        except KeyError:
            raise ImageNotFoundError(zarr_url) from None
        new = dict(old)
        if attributes:
            if self._validate and not _already_valid(attributes, _ATTRIBUTE_TYPES):
                attributes = _ATTRIBUTES_UPDATE.validate_python(attributes)
            merged = dict(old["attributes"])
            for key, value in attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            new["attributes"] = merged
        if types:
            if self._validate and not _already_valid(types, _BOOL_TYPE):
                types = _TYPES_UPDATE.validate_python(types)
            new["types"] = shared_types({**old["types"], **types})
        self._store(zarr_url, new)

    def remove(self, zarr_url: str) -> None:
        """Remove the image; ImageNotFoundError if the zarr_url is absent."""
        images = self._own()
        try:
            old = images.pop(zarr_url)
        except KeyError:
            raise ImageNotFoundError(zarr_url) from None
        if self._index is not None:
            self._index.removed(zarr_url, old)

    def _store(self, zarr_url: str, new: ImageDict) -> None:
        """Insert or replace one stored image, keeping the attribute index."""
        images = self._own()
        old = images.get(zarr_url)
        images[zarr_url] = new
        if self._index is not None:
            if old is None:
                self._index.added(zarr_url, new)
            else:
                self._index.replaced(zarr_url, old, new)

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
        One linear pass.
        """
        return [
            {
                "zarr_url": image["zarr_url"],
                "origin": image["origin"],
                "attributes": image["attributes"].copy(),
                "types": image["types"].copy(),
            }
            for image in self._matching(type_filters, attribute_filters)
        ]

    def filter_zarr_urls(
        self,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    ) -> list[str]:
        """The zarr_urls of `filter(...)` (same filter reading), no image copied."""
        return [
            image["zarr_url"]
            for image in self._matching(type_filters, attribute_filters)
        ]

    def _matching(
        self,
        type_filters: Mapping[str, bool] | None,
        attribute_filters: Mapping[str, Sequence[Any]] | None,
    ) -> Iterable[ImageDict]:
        """Stored images matching the filters (not copies: never hand them out)."""
        valid_types, valid_attributes = validate_filters(
            type_filters, attribute_filters
        )
        return self._select_valid(valid_types, valid_attributes)

    def _select_valid(
        self,
        type_filters: Mapping[str, Any],
        attribute_filters: Mapping[str, Sequence[Any]],
    ) -> list[ImageDict] | Iterable[ImageDict]:
        """Stored images matching already-validated filters (never hand out)."""
        wanted_types = tuple(type_filters.items())
        attrs = attribute_filters.items()
        if attrs:
            found = self._indexed(wanted_types, tuple(attrs))
            if found is not None:
                return found
        return select_stored(self._images.values(), wanted_types, tuple(attrs))

    def _indexed(
        self,
        wanted_types: tuple[tuple[str, Any], ...],
        wanted_attrs: tuple[tuple[str, Sequence[Any]], ...],
    ) -> list[ImageDict] | None:
        """The matches through the attribute index, or None to scan instead.

        Candidates come from the smallest attribute filter's buckets; every
        candidate is then checked against all filters (exact by construction).
        """
        if self._index is None:
            self._index = AttributeIndex(self._images)
        index = self._index
        best: tuple[list[dict[str, None]], bool] | None = None
        for key, values in wanted_attrs:
            found = index.candidates(self._images, key, values)
            if found is None:
                return None
            if best is None or sum(map(len, found[0])) < sum(map(len, best[0])):
                best = found
        assert best is not None
        buckets, in_order = best
        size = sum(map(len, buckets))
        if len(self._images) > _SCAN_ABOVE and size * 8 > len(self._images):
            return None
        if in_order:
            urls: Iterable[str] = buckets[0] if buckets else ()
        else:
            urls = sorted(
                (url for bucket in buckets for url in bucket),
                key=index.positions.__getitem__,
            )
        images = self._images
        return list(
            select_stored([images[url] for url in urls], wanted_types, wanted_attrs)
        )

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
