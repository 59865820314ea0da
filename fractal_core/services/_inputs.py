"""Refusing NUL bytes in what the services would store or query with.

PostgreSQL cannot hold a NUL byte in text or JSONB, so a name, argument,
attribute or filter containing one failed there with a driver error after the
checks had passed, while SQLite and the memory store accepted it. The services
refuse it on every store, before anything is written, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .errors import InvalidValueError

__all__ = ["as_mapping", "refuse_nul"]


def refuse_nul(**fields: Any) -> None:
    """Raise `InvalidValueError` for the first string or key holding a NUL byte."""
    for name, value in fields.items():
        stack: list[tuple[str, Any]] = [(name, value)]
        while stack:
            path, item = stack.pop()
            if isinstance(item, BaseModel):
                item = item.model_dump()
            if isinstance(item, str):
                if "\0" in item:
                    raise InvalidValueError(path, item, "must not contain a NUL byte")
            elif isinstance(item, Mapping):
                for key, child in item.items():
                    if isinstance(key, str) and "\0" in key:
                        raise InvalidValueError(
                            f"{path} key", key, "must not contain a NUL byte"
                        )
                    stack.append((f"{path}[{key!r}]", child))
            elif isinstance(item, (list, tuple)):
                stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))


def as_mapping(field: str, value: Any) -> dict[Any, Any]:
    """`dict(value)` for a mapping; `InvalidValueError` naming the field for
    anything else (`dict()` of a list or string raised a bare TypeError or
    ValueError that named nothing)."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if not isinstance(value, Mapping):
        raise InvalidValueError(field, value, "must be a mapping (a dict)")
    return dict(value)
