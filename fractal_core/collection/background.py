"""Run an operation in a worker thread and watch its activity while it runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..domain.task_group import TaskGroupActivity
from .result import OperationResult

_DEFAULT_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fractal-collect")


class BackgroundOperation:
    """Handle on a collection / lifecycle operation running in another thread."""

    def __init__(
        self,
        operation: Callable[..., OperationResult],
        *,
        executor: Executor | None = None,
        **kwargs: Any,
    ):
        self._activity: TaskGroupActivity | None = None
        self._started = threading.Event()
        user_listener = kwargs.pop("on_change", None)

        def on_change(activity: TaskGroupActivity) -> None:
            if self._activity is None:
                self._activity = activity
                self._started.set()
            if user_listener is not None:
                user_listener(activity)

        self._future: Future[OperationResult] = (executor or _DEFAULT_POOL).submit(
            operation, on_change=on_change, **kwargs
        )
        self._future.add_done_callback(lambda _f: self._started.set())

    def activity(self, timeout: float | None = None) -> TaskGroupActivity:
        """The live activity (its log grows while the operation runs).

        Re-raises the operation's exception if it was refused before starting.
        """
        self._started.wait(timeout)
        if self._activity is None:
            if self._future.done():
                return self._future.result().activity
            raise TimeoutError("The operation has not started yet.")
        return self._activity

    def done(self) -> bool:
        """True once the operation returned (or raised)."""
        return self._future.done()

    def result(self, timeout: float | None = None) -> OperationResult:
        """Wait for the operation and return its result."""
        return self._future.result(timeout)
