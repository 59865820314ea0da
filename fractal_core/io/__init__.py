"""Workflow and dataset files in fractal-server's JSON format, and task matching."""

from __future__ import annotations
