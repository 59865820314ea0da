"""Follow a running job: per-task units done / total, as text, tqdm bars or HTML.

`watch(handle)` blocks until the job ends and returns its outcome;
`progress(handle)` returns at once and keeps a display up to date from the
job's events (in a notebook, an HTML table updated in place; elsewhere, one
text line per change on a stream). tqdm is used only when installed and
asked for (or in `auto` mode on a terminal); it is never required. Nothing here
touches logging configuration.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterable
from typing import Any
from typing import Literal
from typing import TextIO

from ..errors import FractalCoreError
from .html import job_html
from .text import clip

__all__ = [
    "ProgressPrinter",
    "ViewError",
    "progress",
    "progress_line",
    "progress_lines",
    "watch",
]


class ViewError(FractalCoreError, ValueError):
    """A display asked for in a way that cannot work (unknown mode, no tqdm)."""


Mode = Literal["auto", "text", "tqdm", "html"]
_MODES = ("auto", "text", "tqdm", "html")


def progress_line(task: Any) -> str:
    """One task's state: `name [status] units d/t (f failed), images d/t`."""
    failed = f" ({task.units_failed} failed)" if task.units_failed else ""
    return (
        f"{clip(task.name, 50)} [{task.status}] units {task.units_done}/"
        f"{task.units_total}{failed}, images {task.images_done}/{task.images_total}"
    )


def progress_lines(tasks: Iterable[Any]) -> list[str]:
    """`progress_line` for each task, in the order they started."""
    return [progress_line(t) for t in tasks]


class ProgressPrinter:
    """A job listener writing one text line per visible change to `stream`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._last: dict[Any, str] = {}
        self._lock = threading.Lock()
        self._ended = False

    def __call__(self, event: Any) -> None:
        kind = str(getattr(event.kind, "value", event.kind))
        if event.task is not None:
            line = progress_line(event.task)
            with self._lock:
                if self._last.get(event.task.key) == line:
                    return
                self._last[event.task.key] = line
            self._write(line)
        elif kind == "job_ended":
            with self._lock:
                if self._ended:
                    return
                self._ended = True
            self._write(f"job {event.job_id}: {event.status}")
        elif kind == "cancel_requested":
            self._write(f"job {event.job_id}: cancelling ({event.message})")

    def _write(self, line: str) -> None:
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


class _TqdmBars:
    """One tqdm bar per task (units finished / total); tqdm imported lazily."""

    def __init__(self, stream: TextIO | None) -> None:
        import tqdm  # noqa: PLC0415 - optional dependency

        self._tqdm = tqdm.tqdm
        self._stream = stream
        self._bars: dict[Any, Any] = {}

    def __call__(self, event: Any) -> None:
        task = event.task
        if task is None:
            if str(getattr(event.kind, "value", event.kind)) == "job_ended":
                self.close()
            return
        bar = self._bars.get(task.key)
        if bar is None:
            bar = self._tqdm(
                total=task.units_total,
                desc=clip(task.name, 40),
                unit="unit",
                position=len(self._bars),
                file=self._stream,
                leave=True,
            )
            self._bars[task.key] = bar
        bar.total = task.units_total
        bar.n = task.units_finished
        bar.set_postfix_str(f"{task.status}, {task.units_failed} failed")
        bar.refresh()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


class _NotebookTable:
    """An HTML progress table in a notebook output, updated in place."""

    def __init__(self, handle: Any) -> None:
        from IPython.display import HTML  # noqa: PLC0415 - only in notebooks
        from IPython.display import display  # noqa: PLC0415

        self._html = HTML
        self._handle = handle
        self._display = display(HTML(job_html(handle)), display_id=True)

    def __call__(self, event: Any) -> None:
        if self._display is not None:
            self._display.update(self._html(job_html(self._handle)))


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython already imported, kernel app set)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def has_tqdm() -> bool:
    return importlib.util.find_spec("tqdm") is not None


def _listener(handle: Any, mode: str, stream: TextIO | None) -> Any:
    if mode not in _MODES:
        raise ViewError(f"mode={mode!r} is not one of {', '.join(_MODES)}.")
    if mode == "tqdm" and not has_tqdm():
        raise ViewError("mode='tqdm': tqdm is not installed (pip install tqdm).")
    if mode == "html" and "IPython" not in sys.modules:
        raise ViewError("mode='html' needs IPython (a Jupyter notebook).")
    if mode == "auto":
        if _in_notebook():
            mode = "html"
        elif has_tqdm() and stream is None and sys.stderr.isatty():
            mode = "tqdm"
        else:
            mode = "text"
    if mode == "html":
        return _NotebookTable(handle)
    if mode == "tqdm":
        return _TqdmBars(stream)
    return ProgressPrinter(stream)


def progress(handle: Any, *, mode: Mode = "auto", stream: TextIO | None = None) -> Any:
    """Show `handle`'s progress from now on without blocking; return the display.

    The display is a job listener called in the job's thread on every event.
    """
    listener = _listener(handle, mode, stream)
    for task in handle.progress():  # what happened before we started listening
        listener(_Snapshot(handle.id, task))
    handle.add_callback(listener)
    return listener


def watch(
    handle: Any,
    *,
    mode: Mode = "auto",
    stream: TextIO | None = None,
    timeout: float | None = None,
) -> Any:
    """Show progress until the job ends; return `handle.result()`.

    `timeout` bounds the wait for each next event (TimeoutError after it).
    """
    listener = _listener(handle, mode, stream)
    for task in handle.progress():
        listener(_Snapshot(handle.id, task))
    for event in handle.events(timeout=timeout):
        listener(event)
    outcome = handle.result(timeout=timeout)
    for task in outcome.progress:  # events missed while subscribing, if any
        listener(_Snapshot(handle.id, task))
    listener(_Snapshot(handle.id, None, kind="job_ended", status=outcome.status))
    return outcome


class _Snapshot:
    """A progress event built from the current state (for late starters)."""

    message = None

    def __init__(
        self, job_id: Any, task: Any, kind: str = "task_progress", status: Any = None
    ) -> None:
        self.job_id = job_id
        self.task = task
        self.kind = kind
        self.status = getattr(status, "value", status)
