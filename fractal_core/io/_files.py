"""Reading and writing the JSON files of workflow and dataset exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fractal_core.errors import FractalCoreError

__all__ = ["read_json_file", "write_json_file"]


def read_json_file(
    path: str | Path, error: type[FractalCoreError] = FractalCoreError
) -> Any:
    """Parse a JSON file; invalid JSON raises ``error`` naming the file."""
    file_path = Path(path)
    try:
        return json.loads(file_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(f"{file_path} is not valid JSON: {exc}") from exc


def write_json_file(data: Any, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (UTF-8) and return the path."""
    file_path = Path(path)
    file_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return file_path
