"""HTML views for notebooks (`_repr_html_`): every value goes through `escape`.

Renderers read their objects by attribute, like `text.py`, and never import
the domain or the engine. Tables are capped (`limit`) so that a dataset of
100,000 images renders the first rows and says how many more there are.
"""

from __future__ import annotations

import json
from collections import Counter
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from .text import clip

__all__ = [
    "dataset_html",
    "image_list_html",
    "job_html",
    "log_excerpt",
    "task_group_html",
    "workflow_html",
]

DEFAULT_ROWS = 20
MAX_VALUES = 10
LOG_EXCERPT_CHARS = 2000
MAX_TEXT = 300
"""Longest text of one cell or heading (the log excerpt has its own limit)."""


def _e(value: Any, limit: int = MAX_TEXT) -> str:
    """Any value as escaped text (enums by value), clipped before escaping so a
    megabyte-long name or zarr_url cannot make a megabyte of HTML."""
    return escape(clip(str(getattr(value, "value", value)), limit))


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table of escaped cells (cells are plain values, never markup)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _compact(value: Any, limit: int = 80) -> str:
    """A short JSON-ish rendering of a value for one table cell."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return clip(text, limit)


def _more(shown: int, total: int, what: str) -> str:
    return f"<p>… {total - shown} more {escape(what)}</p>" if total > shown else ""


# -- images -------------------------------------------------------------------


def image_list_html(images: Any, limit: int = DEFAULT_ROWS) -> str:
    """The first `limit` images as a table, then "… M more images"."""
    total = len(images)
    rows: list[tuple[Any, ...]] = []
    for image in images:
        if len(rows) >= limit:
            break
        rows.append(
            (
                image["zarr_url"],
                image.get("origin") or "",
                _compact(image.get("attributes", {})),
                _compact(image.get("types", {})),
            )
        )
    table = _table(("zarr_url", "origin", "attributes", "types"), rows)
    return (
        f"<div><strong>{total} image{'s' if total != 1 else ''}</strong>"
        f"{table if rows else ''}{_more(len(rows), total, 'images')}</div>"
    )


def _counts(
    images: Iterable[Mapping[str, Any]], fields: Sequence[str]
) -> list[dict[str, Counter]]:
    """Per field (`attributes`, `types`): key -> Counter of raw values, in one
    pass over the images.

    Values are counted raw, keyed with their type (1 and True differ), and
    only the few shown are rendered: rendering every image's values took
    ~4 s for 200,000 images.
    """
    found: list[dict[str, Counter]] = [defaultdict(Counter) for _ in fields]
    for image in images:
        for field, counts in zip(fields, found, strict=True):
            for key, value in image.get(field, {}).items():
                try:
                    counts[key][(type(value), value)] += 1
                except TypeError:  # an unhashable value: counted by its text
                    counts[key][(str, _compact(value, 60))] += 1
    return found


def _counts_table(counts: Mapping[str, Counter], what: str) -> str:
    rows = []
    for key in sorted(counts)[:DEFAULT_ROWS]:
        common = counts[key].most_common(MAX_VALUES)
        shown = ", ".join(f"{_compact(value, 60)} ({n})" for (_, value), n in common)
        if len(counts[key]) > MAX_VALUES:
            shown += f", … {len(counts[key]) - MAX_VALUES} more values"
        rows.append((key, shown))
    if not rows:
        return f"<p>No {escape(what)}.</p>"
    table = _table((what, "values (images)"), rows)
    return table + _more(len(rows), len(counts), what)


def dataset_html(dataset: Any, limit: int = DEFAULT_ROWS) -> str:
    """Name, zarr_dir, image count, types and attribute values with counts."""
    images = dataset.images
    types, attributes = _counts(images, ("types", "attributes"))
    return (
        f"<div><h4>Dataset {_e(dataset.name)}</h4>"
        f"<p>zarr_dir: <code>{_e(dataset.zarr_dir)}</code> · "
        f"{len(images)} image{'s' if len(images) != 1 else ''}</p>"
        f"{_counts_table(types, 'types')}"
        f"{_counts_table(attributes, 'attributes')}"
        f"{image_list_html(images, limit)}</div>"
    )


# -- tasks and workflows --------------------------------------------------------


def workflow_html(workflow: Any) -> str:
    """Tasks in order: name (alias), type, input and output types, arguments."""
    rows = []
    for position, wft in enumerate(workflow.task_list):
        task = wft.task
        name = task.name if not wft.alias else f"{wft.alias} ({task.name})"
        kind = getattr(wft, "task_type", None) or task.type
        args = {
            k: v
            for k, v in (
                ("non_parallel", wft.args_non_parallel),
                ("parallel", wft.args_parallel),
            )
            if v
        }
        rows.append(
            (
                position,
                name,
                kind,
                _compact(task.input_types or {}),
                _compact(task.output_types or {}),
                _compact(wft.type_filters or {}),
                _compact(args, 160) if args else "",
            )
        )
    header = ("#", "task", "type", "input types", "output types", "filters", "args")
    return (
        f"<div><h4>Workflow {_e(workflow.name)}</h4>"
        f"<p>{len(rows)} task{'s' if len(rows) != 1 else ''}</p>"
        f"{_table(header, rows)}</div>"
    )


def task_group_html(group: Any) -> str:
    """Package, version, origin, active flag and the group's tasks."""
    rows = [
        (t.name, t.type, _compact(t.input_types), _compact(t.output_types))
        for t in group.task_list
    ]
    state = "active" if group.active else "inactive"
    path = getattr(group, "path", None)
    return (
        f"<div><h4>Task group {_e(group.pkg_name)} {_e(group.version)}</h4>"
        f"<p>origin: {_e(group.origin)} · {state} · "
        f"{len(rows)} task{'s' if len(rows) != 1 else ''}"
        f"{' · path: <code>' + _e(path) + '</code>' if path else ''}</p>"
        f"{_table(('task', 'type', 'input types', 'output types'), rows)}</div>"
    )


# -- jobs -------------------------------------------------------------------------


def log_excerpt(path: str | None, limit: int = LOG_EXCERPT_CHARS) -> str | None:
    """The last `limit` characters of a log file, None if it cannot be read."""
    if not path:
        return None
    try:
        with Path(path).open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return ("…" + text) if size > limit else text


def _progress_rows(tasks: Iterable[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            t.order if t.order is not None else "",
            t.name,
            t.status,
            f"{t.units_done}/{t.units_total}",
            t.units_failed,
            f"{t.images_done}/{t.images_total}",
            t.images_failed,
        )
        for t in tasks
    ]


def _status_counts(outcome: Any) -> list[tuple[Any, ...]]:
    """Per task: counts of per-image statuses, when the recorder answers queries."""
    rows = []
    for task in getattr(outcome, "progress", []):
        try:
            statuses = outcome.image_status(task.key)
        except Exception:  # no history queries, or nothing recorded
            return []
        counts = Counter(statuses.values())
        rows.append(
            (task.name, ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
        )
    return rows


def _failures_html(failures: Sequence[Any], limit: int) -> str:
    if not failures:
        return ""
    items = []
    for failure in failures[:limit]:
        urls = ", ".join(failure.zarr_urls[:3])
        if len(failure.zarr_urls) > 3:
            urls += f", … {len(failure.zarr_urls) - 3} more"
        excerpt = log_excerpt(failure.log_file) or failure.message
        items.append(
            f"<li>{_e(failure.task_name)} on {_e(urls) or '(no image)'}: "
            f"{_e(clip(failure.message, 300))}"
            f"<pre>{_e(excerpt, LOG_EXCERPT_CHARS + 1)}</pre></li>"
        )
    return (
        f"<h5>{len(failures)} failure{'s' if len(failures) != 1 else ''}</h5>"
        f"<ul>{''.join(items)}</ul>"
        f"{_more(min(limit, len(failures)), len(failures), 'failures')}"
    )


def job_html(job: Any, limit: int = 5) -> str:
    """A `JobOutcome` or a `JobHandle`: status, per-task progress, failures."""
    outcome = job if hasattr(job, "failures") else None
    status = job.status
    tasks = outcome.progress if outcome is not None else job.progress()
    job_id = outcome.job_id if outcome is not None else job.id
    header = (
        "#",
        "task",
        "status",
        "units done",
        "units failed",
        "images done",
        "images failed",
    )
    parts = [
        f"<div><h4>Job {_e(job_id)}: {_e(status)}</h4>",
        _table(header, _progress_rows(tasks)) if tasks else "<p>No task started.</p>",
    ]
    if outcome is not None:
        if outcome.cancel_reason:
            parts.append(f"<p>Cancelled: {_e(outcome.cancel_reason)}</p>")
        counts = _status_counts(outcome)
        if counts:
            parts.append(_table(("task", "image statuses"), counts))
        parts.append(_failures_html(outcome.failures, limit))
    parts.append("</div>")
    return "".join(parts)
