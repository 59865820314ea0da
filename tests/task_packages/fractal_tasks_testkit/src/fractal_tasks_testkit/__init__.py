"""Stdlib-only Fractal tasks exercising every task type and output edge case."""

__version__ = "0.1.0"
