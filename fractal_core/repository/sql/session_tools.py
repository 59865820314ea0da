"""Helpers shared by the SQL repositories: the write-transaction switch,
not-found errors, JSON dumps of domain objects, row counts."""

from __future__ import annotations

import operator
from typing import Any
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base import NotFoundError
from .connect import BEGIN_OPTION
from .connect import TRANSACTION_OPEN
from .connect import WRITING

T = TypeVar("T")


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


_MAX_ID = 2**63 - 1


def row_by_id(session: Session, model: type[T], object_id: Any) -> T | None:
    """The row with primary key `object_id`; None for an id no row can have.

    A string, a bool or an int outside the 64-bit range is "not found", as in
    the memory store, instead of a driver error (OverflowError on SQLite,
    "bigint out of range" on PostgreSQL) or a string coerced to a number.
    """
    if isinstance(object_id, (bool, str, bytes)):
        return None
    try:
        key = operator.index(object_id)  # ints and integer-like (numpy) ids
    except TypeError:
        return None
    if not -_MAX_ID <= key <= _MAX_ID:
        return None
    return session.get(model, key)


def missing(kind: str, object_id: Any) -> NotFoundError:
    return NotFoundError(f"{kind} {object_id} not found.")


def dump_fields(model: Any, exclude: set[str]) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude=exclude)
    return data


def count_rows(session: Session, model: Any) -> int:
    """How many rows a table holds (tests and diagnostics)."""
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
