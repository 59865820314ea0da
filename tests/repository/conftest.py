"""Fixtures for the SQL store: a SQLite file per test, a private PostgreSQL
server per session (skipped when its binaries are not installed) with a fresh
database per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from fractal_core.repository.sql import SQLStore
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


def _server_url(settings: PostgresSettings, database: str) -> str:
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
    return _server_url(postgres_server, name)


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """A SQLite file path (a plain path, as a user gives it)."""
    return str(tmp_path) + "/store.db"  # type: ignore[operator]


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SQLStore]:
    store = SQLStore(sqlite_url)
    yield store
    store.close()


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[SQLStore]:
    store = SQLStore(postgres_url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def testkit(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The testkit task package in a venv of its own (as the engine tests)."""
    from tests.engine.testkit import install_testkit

    return install_testkit(tmp_path_factory.mktemp("testkit"))
