"""Reduce a pixi `pyproject.toml` to one environment and one platform."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from typing import Any

import tomli_w

logger = logging.getLogger(__name__)


def simplify_pyproject_toml(
    original: str,
    environment: str,
    platform: str,
    *,
    log: Callable[..., None] | None = None,
) -> str:
    """Keep only `environment` and `platform`, drop `tool.pixi.tasks`.

    Returns the input unchanged when there is no `[tool.pixi]` table.
    """
    say = log or (lambda msg, level=logging.INFO: logger.log(level, msg))
    data: dict[str, Any] = tomllib.loads(original)
    pixi = data.get("tool", {}).get("pixi")
    if pixi is None:
        say("No [tool.pixi] table in pyproject.toml: kept as is.", logging.WARNING)
        return original
    for table in ("workspace", "project"):
        if table in pixi:
            pixi[table]["platforms"] = [platform]
    if "environments" in pixi:
        kept = {k: v for k, v in pixi["environments"].items() if k == environment}
        if not kept:
            raise ValueError(f"No '{environment}' pixi environment found.")
        pixi["environments"] = kept
    pixi.pop("tasks", None)
    text = tomli_w.dumps(data)
    tomllib.loads(text)
    return text
