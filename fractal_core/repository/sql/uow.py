"""A unit of work: one `Session`, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from typing import Self

from sqlalchemy import Engine
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from ..base import RepositoryError
from .connect import TRANSACTION_OPEN
from .connect import WRITING
from .connect import read_only
from .repositories import SQLDatasetRepository
from .repositories import SQLJobRepository
from .repositories import SQLProjectRepository
from .repositories import SQLTaskGroupRepository
from .repositories import SQLWorkflowRepository


class SQLUnitOfWork:
    """Repositories sharing one session; `commit()` publishes their changes.

    Leaving the `with` block without `commit()` (or on an exception) rolls
    back. After `commit()` or `rollback()` the unit of work can be used
    again: a new transaction starts with the next statement.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = read_only(engine)
        self._session: Session | None = None
        self._open()

    def _open(self) -> None:
        session = Session(self._engine, expire_on_commit=True, autoflush=True)
        event.listen(session, "after_begin", _mark_open)
        event.listen(session, "after_transaction_end", _mark_closed)
        self._session = session
        self.task_groups = SQLTaskGroupRepository(session)
        self.projects = SQLProjectRepository(session)
        self.datasets = SQLDatasetRepository(session)
        self.workflows = SQLWorkflowRepository(session, self.task_groups)
        self.jobs = SQLJobRepository(session)

    @property
    def session(self) -> Session:
        """The underlying session (for adapters built on this store)."""
        if self._session is None:
            raise RepositoryError("This unit of work is closed.")
        return self._session

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        """Roll back what is pending and release the connection."""
        if self._session is not None:
            self._session.rollback()
            self._session.close()
            self._session = None

    def __enter__(self) -> Self:
        if self._session is None:
            self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _mark_open(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info[TRANSACTION_OPEN] = True


def _mark_closed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info[TRANSACTION_OPEN] = False
        session.info[WRITING] = False
