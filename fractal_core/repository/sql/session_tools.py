"""Helpers shared by the SQL repositories: the write-transaction switch,
not-found errors, JSON dumps of domain objects, row counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base import NotFoundError
from .connect import BEGIN_OPTION
from .connect import TRANSACTION_OPEN
from .connect import WRITING


def for_writing(session: Session) -> None:
    """Make sure the session's transaction may write without a lock upgrade.

    On SQLite a unit of work reads in a deferred transaction (readers never
    wait for writers). Its first write takes the write lock at BEGIN
    (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout.
    When only reads ran so far, that read transaction is ended first and a
    write transaction begun: upgrading a read snapshot that another process
    has since overtaken fails at once in WAL mode, and restarting gives the
    same "read committed" view PostgreSQL gives by default. PostgreSQL
    needs none of this.
    """
    if session.info.get(WRITING):
        return
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        if session.info.get(TRANSACTION_OPEN):
            session.rollback()  # nothing was written in it (WRITING unset)
        session.connection(execution_options={BEGIN_OPTION: "IMMEDIATE"})
    session.info[WRITING] = True


def missing(kind: str, object_id: Any) -> NotFoundError:
    return NotFoundError(f"{kind} {object_id} not found.")


def dump_fields(model: Any, exclude: set[str]) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude=exclude)
    return data


def count_rows(session: Session, model: Any) -> int:
    """How many rows a table holds (tests and diagnostics)."""
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
