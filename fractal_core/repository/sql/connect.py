"""Engines for the SQL store: URL reading, SQLite pragmas, transaction modes.

SQLite is opened in WAL mode with foreign keys on and a busy timeout, because
several processes (a job runner, a web backend, a notebook) share one file.
Write transactions start with `BEGIN IMMEDIATE`, so two writers queue on the
busy timeout instead of failing when a read lock would have to be upgraded;
read-only work (`read_engine`) uses plain deferred transactions.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url

from ..base import RepositoryError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0
"""How long a SQLite writer waits for another process's write lock."""

BEGIN_OPTION = "fractal_sqlite_begin"
"""Execution option naming the BEGIN mode of a SQLite transaction."""

TRANSACTION_OPEN = "fractal_transaction_open"
"""`Session.info` flag: the session holds a connection in a transaction."""

WRITING = "fractal_transaction_writing"
"""`Session.info` flag: the current transaction was started for writing."""


def read_url(url: str | Path) -> URL:
    """A SQLAlchemy URL from a URL string or a plain file path (SQLite)."""
    text = str(url)
    if "://" not in text:
        return make_url("sqlite:///" + str(Path(text).expanduser().absolute()))
    parsed = make_url(text)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise RepositoryError(
            f"Unsupported database URL {parsed.render_as_string(hide_password=True)!r}"
            ": use a SQLite file path or sqlite:///..., or postgresql+psycopg://..."
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, ""):
        raise RepositoryError(
            "An in-memory SQLite database cannot be shared by the store's "
            "connections: give a file path."
        )
    return parsed


def check_sqlite_file(url: URL) -> None:
    """Refuse a SQLite path that is a folder, has a NUL byte or cannot be written.

    The store writes (and WAL mode creates `-wal`/`-shm` files next to the
    database), so a read-only file or folder is refused here, naming the file,
    instead of failing later on the first write with SQLite's bare message.
    """
    if url.get_backend_name() != "sqlite" or not url.database:
        return
    name = url.database
    if "\0" in name:
        raise RepositoryError(f"Invalid SQLite database path {name!r}: NUL byte.")
    path = Path(name)
    folder = path.parent
    problem = None
    if path.is_dir():
        problem = "is a folder, not a database file"
    elif not folder.is_dir():
        problem = f"is in a folder that does not exist ({str(folder)!r})"
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
        problem = "is not readable and writable (read-only?)"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"is in a read-only folder ({str(folder)!r})"
    if problem is not None:
        raise RepositoryError(f"The SQLite database file {name!r} {problem}.")


def make_engine(url: URL, **options: Any) -> Engine:
    """An engine for `url`, with the SQLite setup described above."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **options)
    return create_engine(url, pool_pre_ping=True, **options)


def read_only(engine: Engine) -> Engine:
    """The same pool, but transactions that do not take SQLite's write lock."""
    return engine.execution_options(**{BEGIN_OPTION: "DEFERRED"})


def _sqlite_engine(url: URL, **options: Any) -> Engine:
    connect_args = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    engine = create_engine(url, connect_args=connect_args, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; we emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
