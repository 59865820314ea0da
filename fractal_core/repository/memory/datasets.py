"""Datasets and their images in memory (an `ImageList` per dataset)."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from ...domain.dataset import Dataset
from ...engine.recorder import ImageChanges
from ...images.image_list import ImageList
from ...images.tools import aggregate_attributes
from ...images.tools import aggregate_types
from ..base import ConflictError
from ..base import ImagePage
from ..base import NotFoundError
from ..base import clamped_page
from .state import Repo
from .state import UrlChanges
from .state import copy_of
from .state import need_id
from .state import need_project
from .state import unlink_jobs


class MemoryDatasets(Repo):
    def add(self, dataset: Dataset) -> Dataset:
        need_project(self.uow, dataset.project_id, "dataset")
        dataset_id = self.uow.new_id("dataset")
        bare = dataset.model_copy(update={"images": ImageList()})
        stored = copy_of(bare).model_copy(update={"id": dataset_id})
        self.uow.t_datasets.put(dataset_id, stored)
        self.uow.t_images.put(dataset_id, dataset.images.copy())
        self.uow.image_ops[dataset_id] = [None]
        return self.get(dataset_id)

    def get(self, dataset_id: int, *, with_images: bool = True) -> Dataset:
        stored = self.uow.t_datasets.need(dataset_id)
        images = self.images(dataset_id) if with_images else ImageList()
        return copy_of(stored).model_copy(update={"images": images})

    def list(self, project_id: int | None = None) -> list[Dataset]:
        return [
            copy_of(ds)
            for ds in self.uow.t_datasets.rows()
            if project_id is None or ds.project_id == project_id
        ]

    def update(self, dataset: Dataset) -> None:
        dataset_id = need_id(dataset, "dataset")
        stored = self.uow.t_datasets.need(dataset_id)
        changed = stored.model_copy(
            update={"name": dataset.name, "zarr_dir": dataset.zarr_dir}
        )
        self.uow.t_datasets.put(dataset_id, changed)

    def delete(self, dataset_id: int) -> None:
        """The dataset, its images and (on commit) its history."""
        self.uow.t_datasets.need(dataset_id)
        self.uow.t_datasets.drop(dataset_id)
        self.uow.t_images.drop(dataset_id)
        unlink_jobs(self.uow, "dataset_id", dataset_id)
        self.uow.gone_datasets.add(dataset_id)

    def forget_image_status(self, dataset_id: int, zarr_urls: Sequence[str]) -> None:
        """Drop (on commit) the history status of these images, every task."""
        self.uow.t_datasets.need(dataset_id)
        self.uow.gone_image_status.append((dataset_id, list(zarr_urls)))

    # -- images ------

    def _stored_images(self, dataset_id: int) -> ImageList:
        self.uow.t_datasets.need(dataset_id)
        return self.uow.t_images.find(dataset_id) or ImageList()

    def images(self, dataset_id: int) -> ImageList:
        return self._stored_images(dataset_id).copy()

    def query_images(
        self,
        dataset_id: int,
        *,
        type_filters: Mapping[str, bool] | None = None,
        attribute_filters: Mapping[str, Sequence[Any]] | None = None,
        zarr_url: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage:
        """The reference's image query: aggregates of the whole dataset, then
        the exact zarr_url, then the filters, then a clamped page."""
        images = self._stored_images(dataset_id)
        if zarr_url is None:
            matching = images.filter(type_filters, attribute_filters)
        else:
            one = [images[zarr_url]] if zarr_url in images else []
            matching = ImageList(one, validate=False).filter(
                type_filters, attribute_filters
            )
        window = clamped_page(len(matching), page, page_size)
        everything = images.to_list()
        return ImagePage(
            items=matching[window.offset : window.offset + window.page_size],
            total_count=len(matching),
            page=window.page,
            page_size=window.page_size,
            attributes=aggregate_attributes(everything),
            types=aggregate_types(everything),
        )

    def apply_image_changes(self, dataset_id: int, changes: ImageChanges) -> None:
        """Check every change fits, then apply them to a copy that replaces
        this unit's images only if every image was valid (all or nothing)."""
        current = self._stored_images(dataset_id)
        check_changes_fit(dataset_id, current, changes)
        images = current.copy()  # shallow: O(n) pointers, images are shared
        for image in changes.created:
            images.add(image)
        for image in changes.updated:
            images.set(image)
        for zarr_url in changes.removed:
            images.remove(zarr_url)
        self.uow.t_images.put(dataset_id, images)
        self.uow.image_ops.setdefault(dataset_id, []).append(
            UrlChanges(
                created=[image["zarr_url"] for image in changes.created],
                updated=[image["zarr_url"] for image in changes.updated],
                removed=list(changes.removed),
            )
        )

    def replace_images(self, dataset_id: int, images: ImageList) -> None:
        self.uow.t_datasets.need(dataset_id)
        self.uow.t_images.put(dataset_id, images.copy())
        self.uow.image_ops[dataset_id] = [None]


def check_changes_fit(
    dataset_id: int, current: ImageList, changes: ImageChanges
) -> None:
    for image in changes.created:
        if image["zarr_url"] in current:
            raise ConflictError(
                f"Dataset {dataset_id} already has an image with "
                f"zarr_url '{image['zarr_url']}'."
            )
    missing = [image["zarr_url"] for image in changes.updated]
    for zarr_url in [*missing, *changes.removed]:
        if zarr_url not in current:
            raise NotFoundError(
                f"No image with zarr_url '{zarr_url}' in dataset {dataset_id}."
            )
