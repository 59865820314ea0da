"""The SQL recorder passes the engine's recorder contract on SQLite and
PostgreSQL, and keeps what the contract cannot see: key types, stored jobs
and datasets kept in step, one transaction per applied task."""

from __future__ import annotations

import pytest

from fractal_core.repository.sql import SQLRecorder
from fractal_core.repository.sql import SQLStore
from tests.engine.recorder_contract import RecorderContract


class TestSQLiteRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self, sqlite_store: SQLStore) -> SQLRecorder:
        return sqlite_store.recorder()


class TestPostgresRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self, postgres_store: SQLStore) -> SQLRecorder:
        return postgres_store.recorder()
