"""Pydantic models validating images at the boundaries (user input, task output).

At rest images are plain dicts with keys zarr_url, origin, attributes, types.
Unknown keys are silently dropped (no `extra="forbid"`), as in the reference.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic import Field

from fractal_core.types import DictStrAny
from fractal_core.types import ImageAttributes
from fractal_core.types import ImageAttributesWithNone
from fractal_core.types import ImageTypes
from fractal_core.types import ZarrUrlStr

__all__ = [
    "SingleImage",
    "SingleImageBase",
    "SingleImageTaskOutput",
    "SingleImageUpdate",
]


class SingleImageBase(BaseModel):
    """Common fields of every image: normalised zarr_url and origin, dicts."""

    zarr_url: ZarrUrlStr
    origin: ZarrUrlStr | None = None
    attributes: DictStrAny = Field(default_factory=dict)
    types: ImageTypes = Field(default_factory=dict)


class SingleImage(SingleImageBase):
    """The stored form of an image: attribute values are scalars, never None."""

    attributes: ImageAttributes = Field(default_factory=dict)


class SingleImageTaskOutput(SingleImageBase):
    """An image returned by a task: an attribute set to None means "remove it"."""

    attributes: ImageAttributesWithNone = Field(default_factory=dict)


class SingleImageUpdate(BaseModel):
    """A partial update of one image; a non-None dict replaces the whole field.

    `attributes` may be omitted but not passed as None (reference contract);
    `types` may be None explicitly.
    """

    zarr_url: ZarrUrlStr
    attributes: ImageAttributes = None  # type: ignore[assignment]
    types: ImageTypes | None = None
