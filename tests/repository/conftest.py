"""Fixtures for the SQL store: a SQLite file per test; PostgreSQL stores on the
session's private server (tests/postgres_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fractal_core.repository.sql import SQLStore


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
