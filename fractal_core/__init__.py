"""fractal_core: the core of the Fractal bioimage-analysis platform as a library."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
