"""`MemoryStore`: the committed state, id counters and the one recorder."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ...images.image_list import ImageList
from ..base import RepositoryError
from .recorder import MemoryStoreRecorder
from .state import State
from .uow import MemoryUnitOfWork


class MemoryStore:
    """The default store: everything in this process's memory, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = State.empty()
        self._counters: dict[str, Iterator[int]] = {}
        self._recorder = MemoryStoreRecorder(self)
        self._closed = False

    def unit_of_work(self) -> MemoryUnitOfWork:
        if self._closed:
            raise RepositoryError("This MemoryStore is closed.")
        return MemoryUnitOfWork(self)

    def recorder(self) -> MemoryStoreRecorder:
        """The store's one recorder (history lives as long as the store)."""
        return self._recorder

    def close(self) -> None:
        """Refuse new units of work (the data stays until garbage-collected)."""
        self._closed = True

    # -- internals for units of work and the recorder ------

    def _new_id(self, kind: str) -> int:
        with self._lock:
            counter = self._counters.setdefault(kind, itertools.count(1))
            return next(counter)

    def _commit(self, merge: Callable[[State], State]) -> State:
        """Swap in `merge(latest state)` under the lock; nothing on error."""
        with self._lock:
            self._state = merge(self._state)
            return self._state

    def _forget_history(self, datasets: set[int], workflow_tasks: set[int]) -> None:
        if datasets or workflow_tasks:
            self._recorder.forget(datasets, workflow_tasks)

    def _committed_images(self, dataset_id: int) -> ImageList | None:
        """The committed images of a stored dataset (None if not stored)."""
        return self._state.images.get(dataset_id)

    def _set_images(self, dataset_id: Hashable, images: ImageList) -> bool:
        """Replace a stored dataset's images; False if the store lacks it."""
        with self._lock:
            state = self._state
            if not isinstance(dataset_id, int) or dataset_id not in state.datasets:
                return False
            self._state = replace(state, images={**state.images, dataset_id: images})
            return True

    def _update_job(self, job_id: Hashable, **changes: Any) -> None:
        """Apply recorder changes to a stored job (jobs unknown here are skipped)."""
        with self._lock:
            state = self._state
            if not isinstance(job_id, int) or job_id not in state.jobs:
                return
            job = state.jobs[job_id].model_copy(update=changes)
            self._state = replace(state, jobs={**state.jobs, job_id: job})
