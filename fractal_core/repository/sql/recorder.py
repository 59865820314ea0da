"""The engine's recorder on the SQL store: every event is one transaction.

A session per call (several jobs in threads share one recorder). History
keys go through `keys.encode_key`, so engine ids that this store does not
hold (a string key, a dataset kept elsewhere) are recorded all the same.
When a job or dataset key is the id of a stored `Job` / `Dataset`, the
stored row is kept in step too: the job's status, logs and end time; the
dataset's images (in the same transaction as the task's history).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ...domain.job import JobStatus
from ...engine.recorder import HistoryStatus
from ...engine.recorder import JobRecord
from ...engine.recorder import NewUnit
from ...engine.recorder import RunRecord
from ...engine.recorder import TaskApplied
from ...engine.recorder import UnitRecord
from ...engine.recorder import status_view
from . import images as image_rows
from .connect import read_only
from .keys import decode_key
from .keys import encode_key
from .keys import int_id_of
from .models import DatasetRow
from .models import ImageCacheRow
from .models import JobRecordRow
from .models import JobRow
from .models import LooseImageListRow
from .models import RunRow
from .models import UnitRow

if TYPE_CHECKING:
    from .history_reads import SQLHistoryReads

T = TypeVar("T")

UNSET = "unset"
CACHE_CHUNK = 5000


def _strip_nul(text: str | None) -> str | None:
    return None if text is None else text.replace("\x00", "")


class SQLRecorder:
    """`Recorder` + `HistoryQueries` writing to the store's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = read_only(engine)

    # --- plumbing ----------------------------------------------------------

    def _write(self, work: Callable[[Session], T]) -> T:
        with (
            Session(self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            return work(session)

    def _read(self, work: Callable[[Session], T]) -> T:
        with Session(self._reader) as session, session.begin():
            return work(session)

    # --- jobs ----------------------------------------------------------------

    def job_started(
        self, *, job_id: Hashable, working_dir: str, dataset_id: Hashable = None
    ) -> None:
        def work(session: Session) -> None:
            key = encode_key(job_id)
            session.execute(delete(JobRecordRow).where(JobRecordRow.key == key))
            session.add(
                JobRecordRow(
                    key=key,
                    working_dir=working_dir,
                    dataset_key=encode_key(dataset_id),
                    status=JobStatus.SUBMITTED.value,
                    start_timestamp=datetime.now(UTC),
                )
            )

        self._write(work)

    def job_ended(
        self, *, job_id: Hashable, status: JobStatus, log: str, end_timestamp: datetime
    ) -> None:
        final = JobStatus(status).value

        def work(session: Session) -> None:
            key = encode_key(job_id)
            row = session.get(JobRecordRow, key)
            if row is None:
                row = JobRecordRow(
                    key=key,
                    working_dir="",
                    dataset_key=encode_key(None),
                    start_timestamp=datetime.now(UTC),
                )
                session.add(row)
            row.status, row.log, row.end_timestamp = final, log, end_timestamp
            stored = int_id_of(job_id)
            if stored is not None:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == stored)
                    .values(status=final, log=log, end_timestamp=end_timestamp)
                )

        self._write(work)

    def executor_error_log(self, *, job_id: Hashable, text: str | None) -> None:
        self._write(lambda session: self._set_error_log(session, job_id, text))

    @staticmethod
    def _set_error_log(session: Session, job_id: Hashable, text: str | None) -> None:
        clean = _strip_nul(text)
        session.execute(
            update(JobRecordRow)
            .where(JobRecordRow.key == encode_key(job_id))
            .values(executor_error_log=clean)
        )
        stored = int_id_of(job_id)
        if stored is not None:
            session.execute(
                update(JobRow)
                .where(JobRow.id == stored)
                .values(executor_error_log=clean)
            )

    # --- runs and units -------------------------------------------------------

    def run_started(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        job_id: Hashable,
        task_id: Hashable,
        workflowtask_dump: dict[str, Any],
        task_group_dump: dict[str, Any],
        num_available_images: int,
    ) -> int:
        def work(session: Session) -> int:
            row = RunRow(
                dataset_key=encode_key(dataset_id),
                workflowtask_key=encode_key(workflowtask_id),
                job_key=encode_key(job_id),
                task_key=encode_key(task_id),
                workflowtask_dump=workflowtask_dump,
                task_group_dump=task_group_dump,
                num_available_images=num_available_images,
                status=HistoryStatus.SUBMITTED.value,
                timestamp_started=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return row.id

        return self._write(work)

    def run_ended(self, run_id: int, status: HistoryStatus) -> None:
        value = HistoryStatus(status).value
        self._write(
            lambda session: session.execute(
                update(RunRow).where(RunRow.id == run_id).values(status=value)
            )
        )

    def units_created(self, run_id: int, units: Sequence[NewUnit]) -> list[int]:
        """One multi-row INSERT; ids come back in the order of `units`."""
        if not units:
            return []
        rows = [
            {
                "run_id": run_id,
                "logfile": unit.logfile,
                "zarr_urls": list(unit.zarr_urls),
                "status": HistoryStatus.SUBMITTED.value,
                "has_warnings": False,
            }
            for unit in units
        ]

        def work(session: Session) -> list[int]:
            statement = UnitRow.__table__.insert().returning(  # type: ignore[attr-defined]
                UnitRow.__table__.c.id,  # type: ignore[attr-defined]
                sort_by_parameter_order=True,
            )
            result = session.connection().execute(statement, rows)
            return [int(row[0]) for row in result]

        return self._write(work)

    def units_finished(
        self,
        unit_ids: Sequence[int],
        status: HistoryStatus,
        has_warnings: Mapping[int, bool] | None = None,
    ) -> None:
        value = HistoryStatus(status).value
        ids = list(unit_ids)
        if not ids:
            return
        flagged = has_warnings or {}

        def work(session: Session) -> None:
            for start in range(0, len(ids), CACHE_CHUNK):
                chunk = ids[start : start + CACHE_CHUNK]
                session.execute(
                    update(UnitRow).where(UnitRow.id.in_(chunk)).values(status=value)
                )
            for flag in (True, False):
                marked = [uid for uid in ids if uid in flagged and flagged[uid] is flag]
                for start in range(0, len(marked), CACHE_CHUNK):
                    session.execute(
                        update(UnitRow)
                        .where(UnitRow.id.in_(marked[start : start + CACHE_CHUNK]))
                        .values(has_warnings=flag)
                    )

        self._write(work)

    def run_units_failed(self, run_id: int) -> None:
        self._write(
            lambda session: session.execute(
                update(UnitRow)
                .where(UnitRow.run_id == run_id)
                .values(status=HistoryStatus.FAILED.value)
            )
        )

    def image_cache_set(
        self,
        *,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        latest_unit: Mapping[str, int],
    ) -> None:
        """Upsert (insert ... on conflict do update), in chunks, one transaction."""
        if not latest_unit:
            return
        dataset_key = encode_key(dataset_id)
        wft_key = encode_key(workflowtask_id)
        rows = [
            {
                "dataset_key": dataset_key,
                "workflowtask_key": wft_key,
                "zarr_url": url,
                "unit_id": unit_id,
            }
            for url, unit_id in latest_unit.items()
        ]

        def work(session: Session) -> None:
            conn = session.connection()
            if conn.dialect.name == "postgresql":
                _upsert_cache_pg(conn, dataset_key, wft_key, latest_unit)
                return
            statement = sqlite_insert(ImageCacheRow)
            statement = statement.on_conflict_do_update(
                index_elements=["dataset_key", "workflowtask_key", "zarr_url"],
                set_={"unit_id": statement.excluded.unit_id},
            )
            conn.execute(statement, rows)  # one prepared statement, executemany

        self._write(work)

    def task_applied(self, event: TaskApplied) -> None:
        """Images, cache removals, run counts and error log in one transaction."""

        def work(session: Session) -> None:
            conn = session.connection()
            stored = int_id_of(event.dataset_id)
            if stored is not None and session.get(DatasetRow, stored) is not None:
                image_rows.apply_changes(
                    conn,
                    image_rows.DATASET_IMAGES,
                    stored,
                    event.changes,
                    strict=False,
                )
            else:
                self._apply_loose(session, event)
            removed = event.changes.removed
            dataset_key = encode_key(event.dataset_id)
            wft_key = encode_key(event.workflowtask_id)
            for start in range(0, len(removed), CACHE_CHUNK):
                session.execute(
                    delete(ImageCacheRow).where(
                        ImageCacheRow.dataset_key == dataset_key,
                        ImageCacheRow.workflowtask_key == wft_key,
                        ImageCacheRow.zarr_url.in_(
                            removed[start : start + CACHE_CHUNK]
                        ),
                    )
                )
            session.execute(
                update(RunRow)
                .where(RunRow.id == event.run_id)
                .values(num_tasks=event.num_tasks, num_new_images=event.num_new_images)
            )
            self._set_error_log(session, event.job_id, event.executor_error_log)

        self._write(work)

    @staticmethod
    def _apply_loose(session: Session, event: TaskApplied) -> None:
        """A dataset this store does not hold: keep its list in history tables."""
        key = encode_key(event.dataset_id)
        conn = session.connection()
        if session.get(LooseImageListRow, key) is None:
            session.add(LooseImageListRow(dataset_key=key, next_position=0))
            session.flush()
            image_rows.insert_images(
                conn, image_rows.LOOSE_IMAGES, key, event.images.to_list()
            )
            return
        image_rows.apply_changes(
            conn, image_rows.LOOSE_IMAGES, key, event.changes, strict=False
        )

    # --- queries ------------------------------------------------------------

    def history_reads(self) -> SQLHistoryReads:
        """The history reads of the history services (`HistoryReads`), in SQL."""
        from .history_reads import SQLHistoryReads

        return SQLHistoryReads(self._reader)

    def job(self, job_id: Hashable) -> JobRecord:
        def work(session: Session) -> JobRecord:
            row = session.get(JobRecordRow, encode_key(job_id))
            if row is None:
                raise KeyError(job_id)
            return JobRecord(
                job_id=decode_key(row.key),
                working_dir=row.working_dir,
                dataset_id=decode_key(row.dataset_key),
                status=JobStatus(row.status),
                log=row.log,
                executor_error_log=row.executor_error_log,
                start_timestamp=row.start_timestamp,
                end_timestamp=row.end_timestamp,
            )

        return self._read(work)

    def runs_of(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> list[RunRecord]:
        def work(session: Session) -> list[RunRecord]:
            rows = session.scalars(
                select(RunRow)
                .where(
                    RunRow.dataset_key == encode_key(dataset_id),
                    RunRow.workflowtask_key == encode_key(workflowtask_id),
                )
                .order_by(RunRow.id)
            )
            return [_run_record(row) for row in rows]

        return self._read(work)

    def units_of(self, run_id: int) -> list[UnitRecord]:
        def work(session: Session) -> list[UnitRecord]:
            rows = session.scalars(
                select(UnitRow).where(UnitRow.run_id == run_id).order_by(UnitRow.id)
            )
            return [
                UnitRecord(
                    id=row.id,
                    history_run_id=row.run_id,
                    logfile=row.logfile,
                    zarr_urls=list(row.zarr_urls),
                    status=HistoryStatus(row.status),
                    has_warnings=bool(row.has_warnings),
                )
                for row in rows
            ]

        return self._read(work)

    def num_units_with_warnings(self, run_id: int) -> int:
        """How many units of the run have `has_warnings` (2.23.2+)."""
        return self._read(
            lambda session: int(
                session.scalar(
                    select(func.count())
                    .select_from(UnitRow)
                    .where(UnitRow.run_id == run_id, UnitRow.has_warnings.is_(True))
                )
                or 0
            )
        )

    def images_of(self, dataset_id: Hashable) -> list[dict[str, Any]] | None:
        def work(session: Session) -> list[dict[str, Any]] | None:
            conn = session.connection()
            stored = int_id_of(dataset_id)
            if stored is not None and session.get(DatasetRow, stored) is not None:
                where, owner = image_rows.DATASET_IMAGES, stored
            else:
                key = encode_key(dataset_id)
                if session.get(LooseImageListRow, key) is None:
                    return None
                where, owner = image_rows.LOOSE_IMAGES, key  # type: ignore[assignment]
            return image_rows.read_images(conn, where, owner).to_list()

        return self._read(work)

    def image_status(
        self,
        dataset_id: Hashable,
        workflowtask_id: Hashable,
        zarr_urls: Sequence[str] | None = None,
    ) -> dict[str, str]:
        def work(session: Session) -> dict[str, str]:
            rows = session.execute(
                select(ImageCacheRow.zarr_url, UnitRow.status)
                .join(UnitRow, UnitRow.id == ImageCacheRow.unit_id)
                .where(
                    ImageCacheRow.dataset_key == encode_key(dataset_id),
                    ImageCacheRow.workflowtask_key == encode_key(workflowtask_id),
                )
            )
            return {url: status for url, status in rows}

        found = self._read(work)
        if zarr_urls is None:
            return found
        return {url: found.get(url, UNSET) for url in zarr_urls}

    def workflow_task_status(
        self, dataset_id: Hashable, workflowtask_id: Hashable
    ) -> dict[str, Any] | None:
        """Latest run status plus image counters, counted in the database."""

        def work(session: Session) -> dict[str, Any] | None:
            latest = session.scalars(
                select(RunRow)
                .where(
                    RunRow.dataset_key == encode_key(dataset_id),
                    RunRow.workflowtask_key == encode_key(workflowtask_id),
                )
                .order_by(RunRow.id.desc())
                .limit(1)
            ).first()
            if latest is None:
                return None
            counts = {s.value: 0 for s in HistoryStatus}
            for status, count in session.execute(
                select(UnitRow.status, func.count())
                .select_from(ImageCacheRow)
                .join(UnitRow, UnitRow.id == ImageCacheRow.unit_id)
                .where(
                    ImageCacheRow.dataset_key == encode_key(dataset_id),
                    ImageCacheRow.workflowtask_key == encode_key(workflowtask_id),
                )
                .group_by(UnitRow.status)
            ):
                counts[status] = int(count)
            return status_view(latest.status, latest.num_available_images, counts)

        return self._read(work)


def _upsert_cache_pg(
    conn: Connection, dataset_key: str, wft_key: str, latest_unit: Mapping[str, int]
) -> None:
    """PostgreSQL: INSERT ... SELECT from one JSON object, ON CONFLICT update."""
    sql = (
        "INSERT INTO history_image_cache "
        "(dataset_key, workflowtask_key, zarr_url, unit_id) "
        "SELECT %(dataset)s, %(wft)s, e.key, e.value::bigint "
        "FROM jsonb_each_text(CAST(%(cache)s AS jsonb)) AS e "
        "ON CONFLICT (dataset_key, workflowtask_key, zarr_url) "
        "DO UPDATE SET unit_id = excluded.unit_id"
    )
    items = list(latest_unit.items())
    for start in range(0, len(items), 50_000):
        cache = json.dumps(dict(items[start : start + 50_000]))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                sql, {"dataset": dataset_key, "wft": wft_key, "cache": cache}
            )
        finally:
            cursor.close()


def _run_record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        dataset_id=decode_key(row.dataset_key),
        workflowtask_id=decode_key(row.workflowtask_key),
        job_id=decode_key(row.job_key),
        task_id=decode_key(row.task_key),
        workflowtask_dump=row.workflowtask_dump,
        task_group_dump=row.task_group_dump,
        num_available_images=row.num_available_images,
        status=HistoryStatus(row.status),
        timestamp_started=row.timestamp_started,
        num_tasks=row.num_tasks,
        num_new_images=row.num_new_images,
    )
