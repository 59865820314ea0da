"""Lists whose items must be unique (checked after item validation)."""

from __future__ import annotations

from typing import Annotated
from typing import TypeVar

from pydantic import AfterValidator
from pydantic import NonNegativeInt

from .strings import AbsolutePathStr
from .strings import NonEmptyStr

__all__ = [
    "ListUniqueAbsolutePathStr",
    "ListUniqueNonEmptyString",
    "ListUniqueNonNegativeInt",
    "val_unique_list",
]

T = TypeVar("T")


def val_unique_list(must_be_unique: list[T]) -> list[T]:
    """Refuse a list with repeated items, naming the repeated ones."""
    seen: set[T] = set()
    repeated: list[T] = []
    for item in must_be_unique:
        if item in seen and item not in repeated:
            repeated.append(item)
        seen.add(item)
    if repeated:
        raise ValueError(f"List has repetitions: {repeated}")
    return must_be_unique


ListUniqueNonEmptyString = Annotated[list[NonEmptyStr], AfterValidator(val_unique_list)]
"""Unique non-empty strings (uniqueness after stripping)."""

ListUniqueNonNegativeInt = Annotated[
    list[NonNegativeInt], AfterValidator(val_unique_list)
]
"""Unique non-negative integers (lax: `"2"` is read as 2)."""

ListUniqueAbsolutePathStr = Annotated[
    list[AbsolutePathStr], AfterValidator(val_unique_list)
]
"""Unique absolute paths; uniqueness after normalisation (`/a` equals `/a/`)."""
