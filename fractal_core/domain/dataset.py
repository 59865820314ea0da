"""Datasets: a zarr folder and its ordered image list; import/export shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationInfo
from pydantic import field_validator
from pydantic import model_validator

from ..images import ImageList
from ..images import SingleImage
from ..images import ensure_inside_zarr_dir
from ..images.checks import ensure_all_inside_zarr_dir
from ..images.checks import inside_zarr_dir_guard
from ..types import SafeNonEmptyStr
from ..types import ZarrDirStr
from ..views import html as views_html
from ..views import text as views_text
from ._time import get_timestamp


class Dataset(BaseModel):
    """A dataset: `zarr_dir` plus an `ImageList` (insertion-ordered, indexed).

    Every image must lie strictly inside `zarr_dir`, at construction as in
    `add_image` and `from_import` (2.17.0 never checks its stored datasets).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    id: int | None = None
    name: SafeNonEmptyStr
    project_id: int | None = None
    zarr_dir: ZarrDirStr
    images: ImageList = Field(default_factory=ImageList)
    timestamp_created: AwareDatetime = Field(default_factory=get_timestamp)

    @field_validator("images")
    @classmethod
    def _images_inside_zarr_dir(
        cls, images: ImageList, info: ValidationInfo
    ) -> ImageList:
        zarr_dir = info.data.get("zarr_dir")
        if zarr_dir is not None:  # else zarr_dir's own error is reported
            ensure_all_inside_zarr_dir(images.zarr_urls(), zarr_dir)
        return images

    def add_image(self, image: Mapping[str, Any] | SingleImage) -> None:
        """Append one image after checking it lies inside `zarr_dir` and is new."""
        validated = SingleImage.model_validate(
            image.model_dump() if isinstance(image, BaseModel) else dict(image)
        )
        ensure_inside_zarr_dir(validated.zarr_url, self.zarr_dir)
        self.images.add(validated)

    def to_export(self) -> dict[str, Any]:
        """The reference's dataset export: name, zarr_dir and the full image list."""
        return DatasetExport(
            name=self.name, zarr_dir=self.zarr_dir, images=self.images.to_list()
        ).model_dump(mode="json")

    @classmethod
    def from_import(
        cls, data: Mapping[str, Any] | DatasetImport, **fields: Any
    ) -> Dataset:
        """Build a dataset from an export file's content (legacy keys ignored)."""
        imported = (
            data
            if isinstance(data, DatasetImport)
            else DatasetImport.model_validate(data)
        )
        return cls(
            name=imported.name,
            zarr_dir=imported.zarr_dir,
            images=ImageList(image.model_dump() for image in imported.images),
            **fields,
        )

    def __repr__(self) -> str:
        return views_text.dataset_repr(self)

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__

    def _repr_html_(self) -> str:
        return views_html.dataset_html(self)


class DatasetImport(BaseModel):
    """A dataset file to import (extra keys such as legacy filters are ignored).

    As in 2.18+, every image must lie strictly inside `zarr_dir`; duplicated
    zarr_urls are refused too.
    """

    name: SafeNonEmptyStr
    zarr_dir: ZarrDirStr
    images: list[SingleImage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _images_inside_and_unique(self) -> DatasetImport:
        seen: set[str] = set()
        ensure_inside = inside_zarr_dir_guard(self.zarr_dir)
        for image in self.images:
            ensure_inside(image.zarr_url)
            if image.zarr_url in seen:
                raise ValueError(f"Duplicated image zarr_url='{image.zarr_url}'.")
            seen.add(image.zarr_url)
        return self


class DatasetExport(BaseModel):
    """The dataset export shape: `name`, `zarr_dir`, `images` (stored order)."""

    name: str
    zarr_dir: str
    images: list[SingleImage]
