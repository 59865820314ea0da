"""A dataset's images: query, add, patch, delete (spec §5).

Images are stored one per row; each edit writes only the image it touches
(`DatasetRepository.apply_image_changes`). Every incoming `zarr_url` is
normalised (the reference compares raw strings in query and delete, weak
point 17). Edits are allowed while a job runs on the dataset, as in the
reference; with per-image rows they are no longer lost when the job writes
its own changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ..engine.recorder import ImageChanges
from ..images import SingleImage
from ..images import ensure_inside_zarr_dir
from ..images.errors import DuplicateImageError
from ..images.errors import ImageNotFoundError
from ..images.models import SingleImageUpdate
from ..repository.base import ImagePage
from ..repository.base import Store
from ..repository.base import UnitOfWork
from ..types import normalize_url
from . import _lookup
from ._inputs import as_mapping
from ._inputs import refuse_nul

logger = logging.getLogger(__name__)

__all__ = ["add_image", "delete_image", "get_image", "patch_image", "query_images"]


def query_images(
    store: Store,
    project_id: int,
    dataset_id: int,
    *,
    zarr_url: str | None = None,
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> ImagePage:
    """One page of the images matching the query (clamped pagination).

    `attributes` and `types` of the page describe the whole dataset.
    """
    refuse_nul(
        zarr_url=zarr_url,
        type_filters=type_filters,
        attribute_filters=attribute_filters,
    )
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        return uow.datasets.query_images(
            dataset_id,
            type_filters=type_filters,
            attribute_filters=attribute_filters,
            zarr_url=None if zarr_url is None else normalize_url(zarr_url),
            page=page,
            page_size=page_size,
        )


def _find(uow: UnitOfWork, dataset_id: int, zarr_url: str) -> dict[str, Any] | None:
    items = uow.datasets.query_images(dataset_id, zarr_url=zarr_url).items
    return dict(items[0]) if items else None


def get_image(
    store: Store, project_id: int, dataset_id: int, zarr_url: str
) -> dict[str, Any]:
    """One image by `zarr_url` (`ImageNotFoundError` if absent)."""
    url = normalize_url(zarr_url)
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        image = _find(uow, dataset_id, url)
    if image is None:
        raise ImageNotFoundError(url)
    return image


def add_image(
    store: Store,
    project_id: int,
    dataset_id: int,
    image: Mapping[str, Any] | SingleImage,
) -> dict[str, Any]:
    """Append one image: strictly inside `zarr_dir`, not already present."""
    refuse_nul(image=image)
    validated = SingleImage.model_validate(
        image.model_dump()
        if isinstance(image, BaseModel)
        else as_mapping("image", image)
    )
    stored = validated.model_dump()
    with store.unit_of_work() as uow:
        dataset = _lookup.get_dataset(uow, project_id, dataset_id)
        ensure_inside_zarr_dir(validated.zarr_url, dataset.zarr_dir)
        if _find(uow, dataset_id, validated.zarr_url) is not None:
            raise DuplicateImageError(validated.zarr_url)
        uow.datasets.apply_image_changes(dataset_id, ImageChanges(created=[stored]))
        uow.commit()
    return stored


def patch_image(
    store: Store,
    project_id: int,
    dataset_id: int,
    zarr_url: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    types: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Replace an image's `attributes` and/or `types` wholesale; return it."""
    refuse_nul(zarr_url=zarr_url, attributes=attributes, types=types)
    fields: dict[str, Any] = {"zarr_url": zarr_url}
    if attributes is not None:
        fields["attributes"] = as_mapping("attributes", attributes)
    if types is not None:
        fields["types"] = as_mapping("types", types)
    update = SingleImageUpdate.model_validate(fields)
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        image = _find(uow, dataset_id, update.zarr_url)
        if image is None:
            raise ImageNotFoundError(update.zarr_url)
        if update.attributes is not None:
            image["attributes"] = dict(update.attributes)
        if update.types is not None:
            image["types"] = dict(update.types)
        uow.datasets.apply_image_changes(dataset_id, ImageChanges(updated=[image]))
        uow.commit()
    return image


def delete_image(store: Store, project_id: int, dataset_id: int, zarr_url: str) -> None:
    """Remove one image, and its per-image history status for every task."""
    url = normalize_url(zarr_url)
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        if _find(uow, dataset_id, url) is None:
            raise ImageNotFoundError(url)
        uow.datasets.apply_image_changes(dataset_id, ImageChanges(removed=[url]))
        uow.datasets.forget_image_status(dataset_id, [url])
        uow.commit()
