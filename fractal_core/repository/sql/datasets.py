"""Datasets in SQL: one row each; their images one row each (`images.py`),
queried with filters and pages in the database."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...domain.dataset import Dataset
from ...engine.recorder import ImageChanges
from ...images.image_list import ImageList
from ...images.tools import match_filter
from ...types.filters import validate_filters
from ..base import ImagePage
from ..base import NotFoundError
from ..base import clamped_page
from . import images as image_rows
from .history_cleanup import forget_dataset_history
from .history_cleanup import forget_image_status
from .models import DatasetRow
from .session_tools import for_writing
from .session_tools import missing
from .session_tools import row_by_id
from .summary import image_summary


class SQLDatasetRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _conn(self) -> Any:
        return self._s.connection()

    def _row(self, dataset_id: int) -> DatasetRow:
        row = row_by_id(self._s, DatasetRow, dataset_id)
        if row is None:
            raise missing("Dataset", dataset_id)
        return row

    def add(self, dataset: Dataset) -> Dataset:
        for_writing(self._s)
        row = DatasetRow(
            project_id=dataset.project_id,
            name=dataset.name,
            zarr_dir=dataset.zarr_dir,
            timestamp_created=dataset.timestamp_created,
            next_position=0,
        )
        self._s.add(row)
        try:
            self._s.flush()
        except IntegrityError as error:
            raise NotFoundError(
                f"Dataset {dataset.name!r}: project {dataset.project_id} not found."
            ) from error
        image_rows.insert_images(
            self._conn(), image_rows.DATASET_IMAGES, row.id, dataset.images.to_list()
        )
        self._s.expire(row)
        return self.get(row.id)

    def get(self, dataset_id: int, *, with_images: bool = True) -> Dataset:
        row = self._row(dataset_id)
        images = self.images(dataset_id) if with_images else ImageList()
        return self._to_dataset(row, images)

    def list(self, project_id: int | None = None) -> list[Dataset]:
        query = select(DatasetRow).order_by(DatasetRow.id)
        if project_id is not None:
            query = query.where(DatasetRow.project_id == project_id)
        return [self._to_dataset(row, ImageList()) for row in self._s.scalars(query)]

    def update(self, dataset: Dataset) -> None:
        for_writing(self._s)
        if dataset.id is None:
            raise missing("Dataset", None)
        row = self._row(dataset.id)
        row.name = dataset.name
        row.zarr_dir = dataset.zarr_dir
        self._s.flush()

    def delete(self, dataset_id: int) -> None:
        for_writing(self._s)
        self._row(dataset_id)
        forget_dataset_history(self._s, dataset_id)
        self._s.execute(delete(DatasetRow).where(DatasetRow.id == dataset_id))
        self._s.expunge_all()

    def images(self, dataset_id: int) -> ImageList:
        self._row(dataset_id)
        return image_rows.read_images(
            self._conn(), image_rows.DATASET_IMAGES, dataset_id
        )

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
        """The reference's image query: aggregates over the whole dataset,
        exact zarr_url match, filters (in SQL where expressible), clamped page."""
        self._row(dataset_id)
        conn = self._conn()
        where = image_rows.DATASET_IMAGES
        t = where.table
        valid_types, valid_attributes = validate_filters(
            type_filters, attribute_filters
        )
        conditions, left_types, left_attributes = image_rows.sql_filters(
            conn.dialect.name, where, valid_types, valid_attributes
        )
        query = select(t.c.zarr_url, t.c.origin, t.c.attributes, t.c.types).where(
            t.c.dataset_id == dataset_id, *conditions
        )
        if zarr_url is not None:
            # The first image with exactly this zarr_url (unique per dataset).
            query = query.where(t.c.zarr_url == zarr_url)
        query = query.order_by(t.c.position)
        if left_types or left_attributes:
            # Keys SQLite's JSON paths cannot name: finish the filter in Python.
            selected = [
                image
                for image in map(image_rows.row_to_image, conn.execute(query))
                if match_filter(
                    image=image,
                    type_filters=left_types,
                    attribute_filters=left_attributes,
                )
            ]
            total = len(selected)
            window = clamped_page(total, page, page_size)
            items = selected[window.offset : window.offset + window.page_size]
        else:
            total = int(
                conn.scalar(select(func.count()).select_from(query.subquery())) or 0
            )
            window = clamped_page(total, page, page_size)
            items = [
                image_rows.row_to_image(row)
                for row in conn.execute(
                    query.offset(window.offset).limit(window.page_size)
                )
            ]
        attributes, types = image_summary(conn, dataset_id)
        return ImagePage(
            items=items,
            total_count=total,
            page=window.page,
            page_size=window.page_size,
            attributes=attributes,
            types=types,
        )

    def apply_image_changes(self, dataset_id: int, changes: ImageChanges) -> None:
        for_writing(self._s)
        self._row(dataset_id)
        image_rows.apply_changes(
            self._conn(), image_rows.DATASET_IMAGES, dataset_id, changes
        )

    def replace_images(self, dataset_id: int, images: ImageList) -> None:
        for_writing(self._s)
        self._row(dataset_id)
        image_rows.replace_all(
            self._conn(), image_rows.DATASET_IMAGES, dataset_id, images.to_list()
        )

    def forget_image_status(self, dataset_id: int, zarr_urls: Sequence[str]) -> None:
        """Drop the history status of these images for every workflow task."""
        for_writing(self._s)
        self._row(dataset_id)
        forget_image_status(self._s, dataset_id, list(zarr_urls))

    @staticmethod
    def _to_dataset(row: DatasetRow, images: ImageList) -> Dataset:
        return Dataset.model_construct(
            id=row.id,
            name=row.name,
            project_id=row.project_id,
            zarr_dir=row.zarr_dir,
            images=images,
            timestamp_created=row.timestamp_created,
        )
