"""Creating the schema on an empty database, refusing one of another version."""

from __future__ import annotations

import logging

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text

from ..base import SchemaVersionError
from .models import SCHEMA_VERSION
from .models import Base
from .models import SchemaVersionRow

logger = logging.getLogger(__name__)

UPGRADE_DOCS = "docs/repository.md, section 'Schema version and upgrades'"
_PG_LOCK_KEY = 0x46524143  # any constant: serialises schema creation on a server


def ensure_schema(engine: Engine) -> int:
    """Create the tables on an empty database; check the version otherwise.

    Runs in one transaction holding the database's write lock (SQLite
    `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so processes opening the
    same empty database at once create it once. Returns the version found.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
            )
        tables = set(inspect(conn).get_table_names())
        if not tables:
            Base.metadata.create_all(conn)
            conn.execute(
                SchemaVersionRow.__table__.insert().values(id=1, version=SCHEMA_VERSION)  # type: ignore[attr-defined]
            )
            logger.info("Created the fractal_core schema, version %d", SCHEMA_VERSION)
            return SCHEMA_VERSION
        found = _stored_version(conn, tables)
    if found != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"The database {engine.url.render_as_string(hide_password=True)} has "
            f"schema version {found}, this fractal_core needs version "
            f"{SCHEMA_VERSION}; see {UPGRADE_DOCS} for the upgrade path."
        )
    return found


def _stored_version(conn: Connection, tables: set[str]) -> int | str:
    if SchemaVersionRow.__tablename__ not in tables:
        return "none (tables of another application)"
    version = conn.scalar(
        select(SchemaVersionRow.version).where(SchemaVersionRow.id == 1)
    )
    return "none (empty version table)" if version is None else int(version)
