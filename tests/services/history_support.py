"""Stores for the history tests on all three backends, PostgreSQL included.

`tests/services/conftest.py` parametrises memory and SQLite; the history
tests add a database on the private PostgreSQL server of the repository
tests (skipped where PostgreSQL's binaries are missing).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fractal_core.repository.base import Store
from tests.fidelity.postgres import PostgresSettings

BACKENDS = ["memory", "sqlite", "postgres"]

_names = itertools.count()


def _postgres_database(settings: PostgresSettings) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"history_{os.getpid()}_{next(_names)}"
    with psycopg.connect(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        dbname=settings.database,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return (
        f"postgresql+psycopg://{settings.user}@{settings.host}:{settings.port}/{name}"
    )


@contextmanager
def open_store(
    backend: str, folder: Path, request: pytest.FixtureRequest
) -> Iterator[Store]:
    """A fresh store of `backend` (PostgreSQL through `postgres_server`)."""
    made: Any  # MemoryStore / SQLStore (structurally a Store)
    if backend == "memory":
        from fractal_core.repository.memory import MemoryStore

        made = MemoryStore()
    else:
        from fractal_core.repository.sql import SQLStore

        if backend == "sqlite":
            made = SQLStore(folder / "history.sqlite")
        else:
            settings = request.getfixturevalue("postgres_server")
            made = SQLStore(_postgres_database(settings))
    try:
        yield made
    finally:
        made.close()
