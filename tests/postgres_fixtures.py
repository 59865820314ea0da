"""One private PostgreSQL server per test session, and a fresh database per test.

Registered for the whole suite in tests/conftest.py, so every directory shares
the same server (a fixture imported into several modules would start several).
Tests using it are skipped when the server binaries are not installed.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests.fidelity.postgres import PostgresSettings
from tests.fidelity.postgres import PostgresUnavailable
from tests.fidelity.postgres import private_postgres

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresSettings]:
    """One private PostgreSQL server for the whole session."""
    try:
        with private_postgres(database="fractal_store_admin") as settings:
            yield settings
    except PostgresUnavailable as reason:
        pytest.skip(f"PostgreSQL not available: {reason}")


def server_url(settings: PostgresSettings, database: str) -> str:
    """The SQLAlchemy URL of `database` on the private server."""
    return (
        f"postgresql+psycopg://{settings.user}@{settings.host}:{settings.port}/"
        f"{database}"
    )


@pytest.fixture
def postgres_url(postgres_server: PostgresSettings) -> str:
    """The URL of a new, empty database on the private server."""
    import psycopg

    name = f"store_{os.getpid()}_{next(_names)}"
    with psycopg.connect(
        host=postgres_server.host,
        port=postgres_server.port,
        user=postgres_server.user,
        dbname=postgres_server.database,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url(postgres_server, name)
