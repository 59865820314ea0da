"""The examples need the `web` extra (FastAPI, uvicorn); without it they are skipped."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the `web` extra (FastAPI) is not installed")
pytest.importorskip("uvicorn", reason="the `web` extra (uvicorn) is not installed")
