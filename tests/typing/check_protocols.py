"""Static checks, run by mypy in .ci/run: each implementation satisfies its seam.

Nothing here runs under pytest; mypy fails CI when an implementation stops
matching its protocol (a narrower attribute type once made SQLStore fail).
"""

from fractal_core.engine.recorder import Recorder
from fractal_core.repository.base import Store
from fractal_core.repository.memory import MemoryStore
from fractal_core.repository.sql import SQLStore


def _needs_store(store: Store) -> Recorder:
    return store.recorder()


def _check_stores(sql: SQLStore, memory: MemoryStore) -> None:
    _needs_store(sql)
    _needs_store(memory)
