"""`ImageList`: an ordered image list with an index by zarr_url.

Images are stored as plain dicts {zarr_url, origin, attributes, types} in a dict
keyed by zarr_url, whose insertion order is the list order. Look-up, insertion,
update and removal are O(1); a filter is one linear pass.

Stored dicts are never mutated in place: every change builds a new dict and
replaces the old one, so `copy()` (a shallow copy of the index) is isolated from
the original. Everything handed out (`__iter__`, `__getitem__`, `to_list`,
`filter`) is a copy that callers may mutate freely.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic import GetCoreSchemaHandler
from pydantic import TypeAdapter
from pydantic_core import core_schema
from typing_extensions import TypedDict

from fractal_core.types import ImageAttributesWithNone
from fractal_core.types import ImageTypes

from .errors import DuplicateImageError
from .errors import ImageNotFoundError
from .models import SingleImage

__all__ = ["ImageList", "ImageRecord"]

ImageDict = dict[str, Any]


class ImageRecord(TypedDict):
    """Shape of a stored image dict (used for the serialisation schema)."""

    zarr_url: str
    origin: str | None
    attributes: dict[str, Any]
    types: dict[str, bool]


_ATTRIBUTES_UPDATE = TypeAdapter(ImageAttributesWithNone)
_TYPES_UPDATE = TypeAdapter(ImageTypes)


def _copy_image(image: Mapping[str, Any]) -> ImageDict:
    """A copy whose nested attributes/types dicts are copies too."""
    return {
        "zarr_url": image["zarr_url"],
        "origin": image["origin"],
        "attributes": dict(image["attributes"]),
        "types": dict(image["types"]),
    }


def _as_image_dict(image: Mapping[str, Any] | SingleImage, validate: bool) -> ImageDict:
    """Turn user input into a stored image dict (validated if requested)."""
    if isinstance(image, BaseModel):
        image = image.model_dump()
    if validate:
        return SingleImage.model_validate(image).model_dump()
    return {
        "zarr_url": image["zarr_url"],
        "origin": image.get("origin"),
        "attributes": dict(image.get("attributes") or {}),
        "types": dict(image.get("types") or {}),
    }


class ImageList:
    """Ordered collection of images indexed by zarr_url (see module docstring)."""

    __slots__ = ("_images", "_validate")

    def __init__(
        self,
        images: Iterable[Mapping[str, Any] | SingleImage] = (),
        *,
        validate: bool = True,
    ) -> None:
        self._validate = validate
        self._images: dict[str, ImageDict] = {}
        for image in images:
            self.add(image)

    @classmethod
    def _from_trusted(
        cls, images: dict[str, ImageDict], validate: bool = True
    ) -> ImageList:
        """Wrap an already-built index without copying or validating it."""
        new = cls.__new__(cls)
        new._images = images
        new._validate = validate
        return new

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
        first = next(iter(self._images), None)
        head = f", first={first!r}" if first is not None else ""
        return f"ImageList(len={len(self._images)}{head})"

    def zarr_urls(self) -> list[str]:
        """The zarr_urls in list order."""
        return list(self._images)

    def to_list(self) -> list[ImageDict]:
        """A new list of image copies, safe to mutate."""
        return [_copy_image(image) for image in self._images.values()]

    def copy(self) -> ImageList:
        """A cheap independent copy (stored image dicts are shared, never mutated)."""
        return ImageList._from_trusted(dict(self._images), self._validate)

    # --- changes -----------------------------------------------------------

    def add(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Append a new image; DuplicateImageError if its zarr_url is present."""
        new = _as_image_dict(image, self._validate)
        if new["zarr_url"] in self._images:
            raise DuplicateImageError(new["zarr_url"])
        self._images[new["zarr_url"]] = new

    def set(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Insert the image, or replace the one with its zarr_url in place."""
        new = _as_image_dict(image, self._validate)
        self._images[new["zarr_url"]] = new

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
            if self._validate:
                attributes = _ATTRIBUTES_UPDATE.validate_python(attributes)
            merged = dict(old["attributes"])
            for key, value in attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            new["attributes"] = merged
        if types:
            if self._validate:
                types = _TYPES_UPDATE.validate_python(types)
            new["types"] = {**old["types"], **types}
        self._images[zarr_url] = new

    def remove(self, zarr_url: str) -> None:
        """Remove the image; ImageNotFoundError if the zarr_url is absent."""
        try:
            del self._images[zarr_url]
        except KeyError:
            raise ImageNotFoundError(zarr_url) from None

    # --- queries -----------------------------------------------------------

    def filter(
        self,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    ) -> list[ImageDict]:
        """Images matching the filters, in order (same result as filter_image_list).

        One linear pass; returned images are copies.
        """
        wanted_types = tuple((type_filters or {}).items())
        wanted_attrs = tuple(
            (key, _membership(values) if self._validate else values)
            for key, values in (attribute_filters or {}).items()
        )
        result: list[ImageDict] = []
        append = result.append
        for image in self._images.values():
            if wanted_types:
                types = image["types"]
                if any(types.get(key, False) != value for key, value in wanted_types):
                    continue
            if wanted_attrs:
                attrs = image["attributes"]
                if any(attrs.get(key) not in values for key, values in wanted_attrs):
                    continue
            append(_copy_image(image))
        return result

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
            return cls((m.model_dump() for m in models), validate=False)._revalidating()

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


def _membership(values: Sequence[Any]) -> Any:
    """A container with the list's `in` semantics, hash-based when possible.

    Only used on validated lists, whose attribute values are hashable scalars.
    """
    try:
        return frozenset(values)
    except TypeError:
        return values
