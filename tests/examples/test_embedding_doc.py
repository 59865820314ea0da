"""The minimal backend of docs/embedding.md: it runs, starts, stops and maps errors."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fractal_core.repository.base import NotFoundError

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"


def _snippet_namespace() -> dict[str, Any]:
    """Execute the page's only Python block; return its globals."""
    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


def test_the_documented_backend_starts_answers_and_stops() -> None:
    ns = _snippet_namespace()
    app = ns["app"]
    request = SimpleNamespace(app=app)

    async def session() -> Any:
        async with ns["lifespan"](app):
            with pytest.raises(NotFoundError) as missing:
                ns["read"](1, 1, request)
            answer = await ns["refused"](request, missing.value)
        return answer

    answer = asyncio.run(session())
    assert answer.status_code == 404
    assert "not found" in json.loads(answer.body)["detail"]
    assert (ns["data"] / "fractal.sqlite").is_file()
    assert app.state.registry.running() == []
