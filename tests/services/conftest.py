"""Fixtures of the service tests: ONE `store` fixture, run on every backend.

`store` is parametrised over the in-memory store and the SQL store on a
SQLite file; a backend whose module is not importable is skipped by name.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_core.repository.base import Store
from tests.engine.testkit import InstalledTestkit
from tests.engine.testkit import install_testkit


def _memory(tmp_path: Path) -> Store:
    from fractal_core.repository.memory import MemoryStore

    return MemoryStore()


def _sqlite(tmp_path: Path) -> Store:
    from fractal_core.repository.sql import SQLStore

    return SQLStore(tmp_path / "services.sqlite")


BACKENDS: dict[str, Callable[[Path], Store]] = {"memory": _memory, "sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each backend (closed afterwards)."""
    try:
        made = BACKENDS[request.param](tmp_path)
    except ImportError as error:
        pytest.skip(f"store backend {request.param!r} not available: {error}")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="session")
def testkit(tmp_path_factory: pytest.TempPathFactory) -> InstalledTestkit:
    """The testkit task package installed in a venv, once per session."""
    return install_testkit(tmp_path_factory.mktemp("services-testkit"))
