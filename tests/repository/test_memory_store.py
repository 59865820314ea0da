"""`MemoryStore` against the repository contract and the engine's recorder
contract, plus what only an in-memory store can promise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fractal_core.repository import MemoryStore
from fractal_core.repository.base import Store
from tests.engine.recorder_contract import RecorderContract
from tests.repository.contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = MemoryStore()
        yield store
        store.close()


class TestMemoryRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self) -> object:
        return MemoryStore().recorder()
