"""`SQLStore`: the repository contract on SQLite (a file) or PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from ..base import RepositoryError
from .connect import check_sqlite_file
from .connect import make_engine
from .connect import read_url
from .recorder import SQLRecorder
from .schema import ensure_schema
from .uow import SQLUnitOfWork

logger = logging.getLogger(__name__)


class SQLStore:
    """Projects, datasets (one row per image), workflows, task groups, jobs and
    history in one database.

    `url` is a SQLite file path (`"/data/fractal.db"`), a `sqlite:///...` URL
    or a `postgresql+psycopg://user@host:port/db` URL. An empty database gets
    the schema; a database of another schema version raises
    `SchemaVersionError`; a file that is not a SQLite database, cannot be
    opened or is read-only raises `RepositoryError` naming it. Share one
    store per process: it holds a connection pool and is thread-safe (each
    unit of work and each recorder call has a session of its own).
    """

    def __init__(self, url: str | Path) -> None:
        self.url = read_url(url)
        check_sqlite_file(self.url)
        self.engine: Engine = make_engine(self.url)
        try:
            self.schema_version = ensure_schema(self.engine)
        except DBAPIError as error:
            self.engine.dispose()
            shown = self.url.render_as_string(hide_password=True)
            raise RepositoryError(
                f"Cannot open the database {shown}: {error.orig}"
            ) from error
        except BaseException:
            self.engine.dispose()
            raise
        self._recorder = SQLRecorder(self.engine)

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self.engine.dialect.name

    def unit_of_work(self) -> SQLUnitOfWork:
        return SQLUnitOfWork(self.engine)

    def recorder(self) -> SQLRecorder:
        return self._recorder

    def close(self) -> None:
        """Close every pooled connection (units of work still open keep theirs)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SQLStore({self.url.render_as_string(hide_password=True)!r})"
