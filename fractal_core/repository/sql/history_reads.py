"""`HistoryReads` of the SQL store: counts, latest runs and pages in SQL.

One read-only session per call. The status of every workflow task of a
workflow is two statements whatever the number of tasks (the reference runs
four per task, weak point 9); unit pages and image-with-status pages are
counted and cut by the database. On the images-with-status page each
image's status is its image-cache row's unit status (`"unset"` where no unit
processed the image), looked up by primary key; images are sorted by
zarr_url in code-point order (`C` collation on PostgreSQL, as Python sorts).
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
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...engine.recorder import HistoryStatus
from ...engine.recorder import RunRecord
from ...engine.recorder import UnitRecord
from ...images.status import STATUS_UNSET
from ...images.tools import IMAGE_STATUS_KEY
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
from .summary import image_summary

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
        # count per unit first (a few rows), then join those to their units:
        # 3x faster on SQLite, 4x on PostgreSQL than joining every cache row
        per_unit = (
            select(
                ImageCacheRow.workflowtask_key,
                ImageCacheRow.unit_id,
                func.count().label("n"),
            )
            .where(
                ImageCacheRow.dataset_key == encode_key(dataset_id),
                ImageCacheRow.workflowtask_key.in_(list(by_key)),
            )
            .group_by(ImageCacheRow.workflowtask_key, ImageCacheRow.unit_id)
            .subquery()
        )
        statement = (
            select(per_unit.c.workflowtask_key, UnitRow.status, func.sum(per_unit.c.n))
            .join(UnitRow, UnitRow.id == per_unit.c.unit_id)
            .group_by(per_unit.c.workflowtask_key, UnitRow.status)
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
    """One images-with-status query on one session.

    No join of images to the image cache: PostgreSQL without statistics on
    freshly written tables planned that LEFT JOIN as a nested loop over the
    whole cache for every image (12 min for 100,000 images). The page is cut
    from the image rows alone (a status filter is a set test on zarr_url)
    and only the page's statuses are looked up.
    """

    def __init__(
        self, session: Session, dataset_id: int, workflowtask_id: Hashable
    ) -> None:
        self.conn = session.connection()
        self.dataset_id = dataset_id
        self.where = image_rows.DATASET_IMAGES
        self.t = self.where.table
        cache = ImageCacheRow.__table__.c
        units = UnitRow.__table__
        self.cached = (
            select(cache.zarr_url, units.c.status)
            .join_from(ImageCacheRow.__table__, units, units.c.id == cache.unit_id)
            .where(
                cache.dataset_key == encode_key(dataset_id),
                cache.workflowtask_key == encode_key(workflowtask_id),
            )
        )
        self.images = select(
            self.t.c.zarr_url, self.t.c.origin, self.t.c.attributes, self.t.c.types
        ).where(self.t.c.dataset_id == dataset_id)

    def _status_condition(self, accepted: Sequence[Any]) -> ColumnElement[bool]:
        """Images whose status is in `accepted`, as a set test on the zarr_url
        (hashed by both databases, whatever their statistics): in the cached
        urls with an accepted status, or, when "unset" is accepted, not in the
        cached urls with another status."""
        values = {value for value in accepted if isinstance(value, str)}
        units = UnitRow.__table__.c
        url = ImageCacheRow.__table__.c.zarr_url
        if STATUS_UNSET in values:
            others = self.cached.with_only_columns(url).where(
                units.status.not_in(sorted(values))
            )
            return self.t.c.zarr_url.not_in(others)
        if not values:
            return false()
        chosen = self.cached.with_only_columns(url).where(
            units.status.in_(sorted(values))
        )
        return self.t.c.zarr_url.in_(chosen)

    def _statuses(self, urls: Sequence[str] | None = None) -> dict[str, str]:
        """zarr_url -> latest unit status, for `urls` (all cached when None)."""
        if urls is None:
            return {url: status for url, status in self.conn.execute(self.cached)}
        found: dict[str, str] = {}
        cache = ImageCacheRow.__table__.c
        for start in range(0, len(urls), image_rows.CHUNK):
            chunk = list(urls[start : start + image_rows.CHUNK])
            rows = self.conn.execute(self.cached.where(cache.zarr_url.in_(chunk)))
            found.update((url, status) for url, status in rows)
        return found

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
        if IMAGE_STATUS_KEY in attribute_filters:
            conditions.append(
                self._status_condition(attribute_filters[IMAGE_STATUS_KEY])
            )
        query = self.images.where(*conditions)
        total = int(
            self.conn.scalar(select(func.count()).select_from(query.subquery())) or 0
        )
        window = unclamped_page(total, page, page_size)
        attributes, types = image_summary(self.conn, self.dataset_id)
        return ImagePage(
            items=self._items(query, window.offset, window.page_size),
            total_count=total,
            page=window.page,
            page_size=window.page_size,
            attributes=attributes,
            types=types,
        )

    def _items(
        self, query: Select[Any], offset: int, limit: int
    ) -> list[dict[str, Any]]:
        url = self.t.c.zarr_url
        order = url.collate("C") if self.conn.dialect.name == "postgresql" else url
        rows = self.conn.execute(
            query.order_by(order).offset(offset).limit(limit)
        ).all()
        statuses = self._statuses([row.zarr_url for row in rows])
        return [
            {
                "zarr_url": row.zarr_url,
                "origin": row.origin,
                "attributes": {
                    **row.attributes,
                    IMAGE_STATUS_KEY: statuses.get(row.zarr_url, STATUS_UNSET),
                },
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
        images = [
            image_rows.row_to_image(row) for row in self.conn.execute(self.images)
        ]
        return status_image_page(
            images,
            self._statuses().items(),
            type_filters=type_filters,
            attribute_filters=attribute_filters,
            page=page,
            page_size=page_size,
        )
