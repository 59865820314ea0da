"""`HistoryReads` of the SQL store: counts, latest runs and pages in SQL.

One read-only session per call. The status of every workflow task of a
workflow is two statements whatever the number of tasks (the reference runs
four per task, weak point 9); unit pages and image-with-status pages are
counted and cut by the database. The images-with-status page joins the
dataset's image rows to the image cache and its units (`"unset"` where no
unit processed the image) and sorts by zarr_url in code-point order (`C`
collation on PostgreSQL, as Python sorts).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import Engine
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...engine.recorder import HistoryStatus
from ...engine.recorder import RunRecord
from ...engine.recorder import UnitRecord
from ...images.status import STATUS_UNSET
from ...images.tools import IMAGE_STATUS_KEY
from ...images.tools import aggregate_attributes
from ...images.tools import aggregate_types
from ..base import ImagePage
from ..base import Page
from ..base import unclamped_page
from ..history_common import status_image_page
from . import images as image_rows
from .keys import encode_key
from .models import ImageCacheRow
from .models import RunRow
from .models import UnitRow
from .recorder import _run_record
from .session_tools import row_by_id

__all__ = ["SQLHistoryReads"]

T = TypeVar("T")


def _unit_record(row: UnitRow) -> UnitRecord:
    return UnitRecord(
        id=row.id,
        history_run_id=row.run_id,
        logfile=row.logfile,
        zarr_urls=list(row.zarr_urls),
        status=HistoryStatus(row.status),
        has_warnings=bool(row.has_warnings),
    )


def _runs_by_start() -> tuple[Any, Any]:
    return RunRow.timestamp_started, RunRow.id


class SQLHistoryReads:
    """History reads answered by the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _read(self, work: Callable[[Session], T]) -> T:
        with Session(self._engine) as session, session.begin():
            return work(session)

    def run(self, run_id: int) -> RunRecord | None:
        """The run, or None."""

        def work(session: Session) -> RunRecord | None:
            row = row_by_id(session, RunRow, run_id)
            return None if row is None else _run_record(row)

        return self._read(work)

    def unit(self, unit_id: int) -> UnitRecord | None:
        """The unit, or None."""

        def work(session: Session) -> UnitRecord | None:
            row = row_by_id(session, UnitRow, unit_id)
            return None if row is None else _unit_record(row)

        return self._read(work)

    def latest_runs(
        self, dataset_id: Hashable, workflowtask_ids: Sequence[Hashable]
    ) -> dict[Hashable, RunRecord]:
        """Latest run per workflow task, one statement (a window function)."""
        keys = [encode_key(wft) for wft in workflowtask_ids]
        rank = (
            func.row_number()
            .over(
                partition_by=RunRow.workflowtask_key,
                order_by=(RunRow.timestamp_started.desc(), RunRow.id.desc()),
            )
            .label("rank")
        )
        ranked = (
            select(RunRow.id, rank)
            .where(
                RunRow.dataset_key == encode_key(dataset_id),
                RunRow.workflowtask_key.in_(keys),
            )
            .subquery()
        )

        def work(session: Session) -> dict[Hashable, RunRecord]:
            rows = session.scalars(
                select(RunRow)
                .join(ranked, ranked.c.id == RunRow.id)
                .where(ranked.c.rank == 1)
            )
            records = [_run_record(row) for row in rows]
            return {record.workflowtask_id: record for record in records}

        return self._read(work) if keys else {}

    def image_status_counts(
        self, dataset_id: Hashable, workflowtask_ids: Sequence[Hashable]
    ) -> dict[Hashable, dict[str, int]]:
        """Cached images per latest-unit status, per workflow task (GROUP BY)."""
        by_key = {encode_key(wft): wft for wft in workflowtask_ids}
        statement = (
            select(ImageCacheRow.workflowtask_key, UnitRow.status, func.count())
            .join(UnitRow, UnitRow.id == ImageCacheRow.unit_id)
            .where(
                ImageCacheRow.dataset_key == encode_key(dataset_id),
                ImageCacheRow.workflowtask_key.in_(list(by_key)),
            )
            .group_by(ImageCacheRow.workflowtask_key, UnitRow.status)
        )

        def work(session: Session) -> dict[Hashable, dict[str, int]]:
            counts: dict[Hashable, dict[str, int]] = {
                wft: {} for wft in by_key.values()
            }
            for key, status, count in session.execute(statement):
                counts[by_key[key]][status] = int(count)
            return counts

        return self._read(work)

    def runs_of_dataset(self, dataset_id: Hashable) -> list[RunRecord]:
        """Every run on the dataset, oldest first."""
        statement = (
            select(RunRow)
            .where(RunRow.dataset_key == encode_key(dataset_id))
            .order_by(*_runs_by_start())
        )
        return self._read(
            lambda session: [_run_record(row) for row in session.scalars(statement)]
        )

    def unit_counts(self, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Units per status, per run (GROUP BY)."""
        statement = (
            select(UnitRow.run_id, UnitRow.status, func.count())
            .where(UnitRow.run_id.in_(list(run_ids)))
            .group_by(UnitRow.run_id, UnitRow.status)
        )

        def work(session: Session) -> dict[int, dict[str, int]]:
            counts: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
            for run_id, status, count in session.execute(statement):
                counts[run_id][status] = int(count)
            return counts

        return self._read(work) if run_ids else {}

    def units_page(
        self,
        run_id: int,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> Page[UnitRecord]:
        """Units of the run by id: COUNT, then OFFSET/LIMIT."""
        conditions = [UnitRow.run_id == run_id]
        if status is not None:
            conditions.append(UnitRow.status == str(status))

        def work(session: Session) -> Page[UnitRecord]:
            total = int(
                session.scalar(select(func.count(UnitRow.id)).where(*conditions)) or 0
            )
            window = unclamped_page(total, page, page_size)
            rows = session.scalars(
                select(UnitRow)
                .where(*conditions)
                .order_by(UnitRow.id)
                .offset(window.offset)
                .limit(window.page_size)
            )
            return Page(
                items=[_unit_record(row) for row in rows],
                total_count=total,
                page=window.page,
                page_size=window.page_size,
            )

        return self._read(work)

    def image_unit(
        self, dataset_id: Hashable, workflowtask_id: Hashable, zarr_url: str
    ) -> UnitRecord | None:
        """The unit the image cache points to, or None."""
        statement = (
            select(UnitRow)
            .join(ImageCacheRow, ImageCacheRow.unit_id == UnitRow.id)
            .where(
                ImageCacheRow.dataset_key == encode_key(dataset_id),
                ImageCacheRow.workflowtask_key == encode_key(workflowtask_id),
                ImageCacheRow.zarr_url == zarr_url,
            )
        )

        def work(session: Session) -> UnitRecord | None:
            row = session.scalars(statement).first()
            return None if row is None else _unit_record(row)

        return self._read(work)

    def status_images(
        self,
        dataset_id: int,
        workflowtask_id: Hashable,
        *,
        type_filters: Mapping[str, bool],
        attribute_filters: Mapping[str, Sequence[Any]],
        page: int = 1,
        page_size: int | None = None,
    ) -> ImagePage:
        """Images with status: filters, order and page in SQL where expressible."""
        return self._read(
            lambda session: _StatusImages(session, dataset_id, workflowtask_id).page(
                type_filters, attribute_filters, page, page_size
            )
        )


class _StatusImages:
    """One images-with-status query on one session."""

    def __init__(
        self, session: Session, dataset_id: int, workflowtask_id: Hashable
    ) -> None:
        self.conn = session.connection()
        self.dataset_id = dataset_id
        self.where = image_rows.DATASET_IMAGES
        self.t = self.where.table
        cache = ImageCacheRow.__table__.c
        units = UnitRow.__table__
        joined = self.t.outerjoin(
            ImageCacheRow.__table__,
            and_(
                cache.dataset_key == encode_key(dataset_id),
                cache.workflowtask_key == encode_key(workflowtask_id),
                cache.zarr_url == self.t.c.zarr_url,
            ),
        ).outerjoin(units, units.c.id == cache.unit_id)
        self.status = func.coalesce(units.c.status, STATUS_UNSET)
        self.base = (
            select(
                self.t.c.zarr_url,
                self.t.c.origin,
                self.t.c.attributes,
                self.t.c.types,
                self.status.label("status"),
            )
            .select_from(joined)
            .where(self.t.c.dataset_id == dataset_id)
        )

    def _summary(self) -> list[dict[str, Any]]:
        return [
            {"attributes": attributes, "types": types}
            for attributes, types in self.conn.execute(
                select(self.t.c.attributes, self.t.c.types).where(
                    self.t.c.dataset_id == self.dataset_id
                )
            )
        ]

    def _status_condition(self, accepted: Sequence[Any]) -> ColumnElement[bool]:
        values = [value for value in accepted if isinstance(value, str)]
        return self.status.in_(values) if values else false()

    def page(
        self,
        type_filters: Mapping[str, bool],
        attribute_filters: Mapping[str, Sequence[Any]],
        page: int,
        page_size: int | None,
    ) -> ImagePage:
        others = {k: v for k, v in attribute_filters.items() if k != IMAGE_STATUS_KEY}
        conditions, left_types, left_attributes = image_rows.sql_filters(
            self.conn.dialect.name, self.where, type_filters, others
        )
        if left_types or left_attributes:
            return self._in_python(type_filters, attribute_filters, page, page_size)
        summary = self._summary()
        if IMAGE_STATUS_KEY in attribute_filters:
            conditions.append(
                self._status_condition(attribute_filters[IMAGE_STATUS_KEY])
            )
        query = self.base.where(*conditions)
        total = int(
            self.conn.scalar(select(func.count()).select_from(query.subquery())) or 0
        )
        window = unclamped_page(total, page, page_size)
        return ImagePage(
            items=self._items(query, window.offset, window.page_size),
            total_count=total,
            page=window.page,
            page_size=window.page_size,
            attributes=aggregate_attributes(summary),
            types=aggregate_types(summary),
        )

    def _items(
        self, query: Select[Any], offset: int, limit: int
    ) -> list[dict[str, Any]]:
        url = self.t.c.zarr_url
        order = url.collate("C") if self.conn.dialect.name == "postgresql" else url
        rows = self.conn.execute(query.order_by(order).offset(offset).limit(limit))
        return [
            {
                "zarr_url": row.zarr_url,
                "origin": row.origin,
                "attributes": {**row.attributes, IMAGE_STATUS_KEY: row.status},
                "types": row.types,
            }
            for row in rows
        ]

    def _in_python(
        self,
        type_filters: Mapping[str, bool],
        attribute_filters: Mapping[str, Sequence[Any]],
        page: int,
        page_size: int | None,
    ) -> ImagePage:
        """Filter keys SQLite's JSON paths cannot name: the whole page in Python."""
        rows = list(self.conn.execute(self.base))
        images = [image_rows.row_to_image(row) for row in rows]
        return status_image_page(
            images,
            [(row.zarr_url, row.status) for row in rows if row.status != STATUS_UNSET],
            type_filters=type_filters,
            attribute_filters=attribute_filters,
            page=page,
            page_size=page_size,
        )
