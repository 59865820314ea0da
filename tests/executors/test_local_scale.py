"""A large submission never floods the local executor's thread pool.

Units are handed to the pool at most two per worker ahead (the rest wait in
the handle), so 100,000 units do not create 100,000 queued pool items; every
unit still runs once and results come back in submission order.
"""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors.base import WorkUnit
from fractal_core.executors.local import LocalExecutor


class CountingPool(ThreadPoolExecutor):
    """A pool that records the most work items it held at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outstanding = 0
        self.most = 0
        self._count_lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._count_lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._count_lock:
            self.outstanding -= 1


@pytest.mark.parametrize("workers", [1, 3])
def test_pool_holds_at_most_two_units_per_worker(tmp_path: Path, workers: int) -> None:
    true = shutil.which("true") or "/bin/true"
    units = [
        WorkUnit(
            id=str(i),
            command=true,
            args_file=tmp_path / f"{i}-args.json",
            output_file=tmp_path / f"{i}-out.json",
            log_file=tmp_path / f"{i}-log.txt",
        )
        for i in range(60)
    ]
    executor = LocalExecutor(max_workers=workers)
    pool = CountingPool(max_workers=workers)
    executor._pool.shutdown()
    executor._pool = pool
    with executor:
        handle = executor.submit(units)
        results = handle.results()
    assert list(results) == [unit.id for unit in units]
    assert all(result.ok for result in results.values())
    # Two per worker ahead, plus one per worker whose finished item hands over
    # the next unit before the pool marks its own item done.
    assert 0 < pool.most <= 3 * workers < len(units)
