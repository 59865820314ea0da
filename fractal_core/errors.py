"""Library exceptions: one base class, so callers can catch everything we raise."""

from __future__ import annotations

from typing import Any

__all__ = ["FilterError", "FractalCoreError"]


class FractalCoreError(Exception):
    """Base class of every exception raised on purpose by fractal_core."""


class FilterError(FractalCoreError, ValueError):
    """Type or attribute filters that cannot be used; names the key and value.

    `kind` is `"type_filters"` or `"attribute_filters"`; `key` and `value` are
    the offending entry when one can be singled out (else None).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        key: str | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key
        self.value = value
