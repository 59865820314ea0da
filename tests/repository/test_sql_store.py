"""The SQL store passes the store contract on SQLite and PostgreSQL, plus what
only a database shows: schema versions, files shared by processes, rows per
image, filters run in SQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fractal_core.repository.sql import SQLStore

from .contract import StoreContract


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, sqlite_url: str) -> Iterator[SQLStore]:
        store = SQLStore(sqlite_url)
        yield store
        store.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[SQLStore]:
        store = SQLStore(postgres_url)
        yield store
        store.close()
