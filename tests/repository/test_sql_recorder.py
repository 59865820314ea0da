"""The SQL recorder passes the engine's recorder contract on SQLite and
PostgreSQL, and keeps what the contract cannot see: key types, stored jobs
and datasets kept in step, one transaction per applied task."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

import pytest

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import Job
from fractal_core.domain.job import JobStatus
from fractal_core.domain.project import Project
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.engine.recorder import ImageChanges
from fractal_core.engine.recorder import NewUnit
from fractal_core.engine.recorder import TaskApplied
from fractal_core.images.image_list import ImageList
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
