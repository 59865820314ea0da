"""Reading and writing the JSON files of workflow and dataset exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fractal_core.errors import FractalCoreError
from fractal_core.types.json_text import JsonTextError
from fractal_core.types.json_text import read_json_path

__all__ = ["read_json_file", "write_json_file"]


def read_json_file(
    path: str | Path, error: type[FractalCoreError] = FractalCoreError
) -> Any:
    """Parse a JSON file strictly (``types.json_text``): a file that is not
    UTF-8, not JSON, holds NaN or nests too deeply raises ``error`` naming it."""
    file_path = Path(path)
    try:
        return read_json_path(file_path)
    except JsonTextError as exc:
        raise error(f"{file_path} is {exc}.") from None


def write_json_file(data: Any, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (UTF-8) and return the path."""
    file_path = Path(path)
    file_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return file_path
