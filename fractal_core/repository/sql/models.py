"""Typed SQLAlchemy 2 models: the SQL store's tables (adapter-only).

Aggregates whose inner shape the database never queries (a project's
members, a task's schemas, a job's dumps) are kept as one JSON document per
row (`data`), next to the columns that are filtered, ordered or constrained
(names, parent ids, statuses, positions). Images are one row each; history is
keyed by *text keys* (see `keys.py`) with no foreign key to datasets or
workflow tasks, since the engine may report ids this store does not hold.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Dialect
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 1
"""Bumped whenever a table or column changes; see docs/repository.md."""

JSONDoc = JSON().with_variant(JSONB(), "postgresql")
"""JSON on SQLite (text + json1 functions), JSONB on PostgreSQL."""

IdType = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is the rowid."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, timezone-aware UTC datetimes out.

    SQLite keeps no zone: values are stored in UTC and read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table of the store."""


class SchemaVersionRow(Base):
    __tablename__ = "fractal_schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String)
    zarr_dir: Mapped[str] = mapped_column(Text)
    timestamp_created: Mapped[datetime] = mapped_column(UTCDateTime)
    next_position: Mapped[int] = mapped_column(BigInteger, default=0)


class ImageRow(Base):
    """One image of a stored dataset; order is by `position` (gaps allowed)."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("dataset_id", "zarr_url", name="uq_images_dataset_url"),
        Index("ix_images_dataset_position", "dataset_id", "position"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(BigInteger)
    zarr_url: Mapped[str] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    types: Mapped[dict[str, bool]] = mapped_column(JSONDoc)


class WorkflowRow(Base):
    __tablename__ = "workflows"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class WorkflowTaskRow(Base):
    __tablename__ = "workflow_tasks"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(IdType, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class TaskGroupRow(Base):
    __tablename__ = "task_groups"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    pkg_name: Mapped[str] = mapped_column(String, index=True)
    version: Mapped[str] = mapped_column(String)
    active: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    task_group_id: Mapped[int] = mapped_column(
        ForeignKey("task_groups.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class TaskGroupActivityRow(Base):
    __tablename__ = "task_group_activities"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    task_group_id: Mapped[int | None] = mapped_column(IdType, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class JobRow(Base):
    """A stored `Job`; at most one `submitted` job per dataset (partial index)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "uq_jobs_one_submitted_per_dataset",
            "dataset_id",
            unique=True,
            sqlite_where=text("status = 'submitted'"),
            postgresql_where=text("status = 'submitted'"),
        ),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    workflow_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), index=True
    )
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    log: Mapped[str | None] = mapped_column(Text)
    executor_error_log: Mapped[str | None] = mapped_column(Text)
    end_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


# --- history (text keys, no foreign keys to the aggregates) ------------------


class JobRecordRow(Base):
    """What the engine reported about a job, by its text key."""

    __tablename__ = "history_jobs"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    working_dir: Mapped[str] = mapped_column(Text)
    dataset_key: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16))
    log: Mapped[str | None] = mapped_column(Text)
    executor_error_log: Mapped[str | None] = mapped_column(Text)
    start_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    end_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunRow(Base):
    __tablename__ = "history_runs"
    __table_args__ = (
        Index("ix_history_runs_dataset_wft", "dataset_key", "workflowtask_key"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    dataset_key: Mapped[str] = mapped_column(String)
    workflowtask_key: Mapped[str] = mapped_column(String)
    job_key: Mapped[str] = mapped_column(String, index=True)
    task_key: Mapped[str] = mapped_column(String)
    workflowtask_dump: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    task_group_dump: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    num_available_images: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    timestamp_started: Mapped[datetime] = mapped_column(UTCDateTime)
    num_tasks: Mapped[int | None] = mapped_column(Integer)
    num_new_images: Mapped[int | None] = mapped_column(Integer)


class UnitRow(Base):
    __tablename__ = "history_units"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("history_runs.id", ondelete="CASCADE"), index=True
    )
    logfile: Mapped[str] = mapped_column(Text)
    zarr_urls: Mapped[list[str]] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(16))
    has_warnings: Mapped[bool] = mapped_column(Boolean, default=False)


class ImageCacheRow(Base):
    """(dataset, workflow task, zarr_url) -> the latest unit that processed it."""

    __tablename__ = "history_image_cache"
    dataset_key: Mapped[str] = mapped_column(String, primary_key=True)
    workflowtask_key: Mapped[str] = mapped_column(String, primary_key=True)
    zarr_url: Mapped[str] = mapped_column(Text, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("history_units.id", ondelete="CASCADE"), index=True
    )


class LooseImageListRow(Base):
    """An image list the engine reported for a dataset this store does not hold."""

    __tablename__ = "history_image_lists"
    dataset_key: Mapped[str] = mapped_column(String, primary_key=True)
    next_position: Mapped[int] = mapped_column(BigInteger, default=0)


class LooseImageRow(Base):
    __tablename__ = "history_images"
    __table_args__ = (
        UniqueConstraint("dataset_key", "zarr_url", name="uq_history_images_url"),
        Index("ix_history_images_position", "dataset_key", "position"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    dataset_key: Mapped[str] = mapped_column(
        ForeignKey("history_image_lists.dataset_key", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(BigInteger)
    zarr_url: Mapped[str] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    types: Mapped[dict[str, bool]] = mapped_column(JSONDoc)
