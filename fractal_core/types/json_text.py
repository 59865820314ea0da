"""Strict JSON parsing of untrusted files: UTF-8, no NaN, bounded nesting.

Manifests, workflow files and dataset files come from outside; `json.loads`
alone lets `UnicodeDecodeError`, `RecursionError` and NaN through. Here every
problem becomes one `JsonTextError` (a ValueError) whose message says what is
wrong; the loaders wrap it into their own error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonTextError", "parse_json_bytes", "read_json_path"]

MAX_JSON_DEPTH = 256
"""Deepest nesting of arrays/objects accepted (real files stay far below)."""


class JsonTextError(ValueError):
    """Text that is not acceptable JSON; the message says where and why."""


def _refuse_constant(name: str) -> Any:
    raise JsonTextError(f"{name} is not a JSON value (only finite numbers are)")


def _deeper_than(data: Any, limit: int) -> bool:
    """True if `data` nests lists/dicts more than `limit` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict:
            children: Any = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend(
            (child, depth + 1) for child in children if type(child) in (dict, list)
        )
    return False


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonTextError(
            f"not UTF-8 at byte {error.start} ({error.reason})"
        ) from None


def parse_json_bytes(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse UTF-8 JSON bytes; `JsonTextError` for anything unacceptable.

    Refused: invalid UTF-8 (the byte offset is given), invalid JSON (line and
    column), `NaN`/`Infinity`, and nesting deeper than `max_depth`.
    """
    text = _decode(raw)
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except JsonTextError:
        raise
    except json.JSONDecodeError as error:
        raise JsonTextError(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise JsonTextError(f"nested deeper than {max_depth} levels") from None
    except ValueError as error:  # e.g. an integer with too many digits
        raise JsonTextError(f"not valid JSON: {error}") from None
    openers = text.count("[") + text.count("{")
    if openers > max_depth and _deeper_than(data, max_depth):
        raise JsonTextError(f"nested deeper than {max_depth} levels")
    return data


def read_json_path(path: str | Path, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`parse_json_bytes` on a file's content; `OSError` if it cannot be read."""
    return parse_json_bytes(Path(path).read_bytes(), max_depth=max_depth)
