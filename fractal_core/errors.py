"""Library exceptions: one base class, so callers can catch everything we raise."""

from __future__ import annotations


class FractalCoreError(Exception):
    """Base class of every exception raised on purpose by fractal_core."""
