"""Read a manifest from a file or a mapping, with errors naming task and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..types.json_text import JsonTextError
from ..types.json_text import parse_json_bytes
from .errors import ManifestError
from .errors import ManifestProblem
from .errors import problems_from_validation_error
from .models import MANIFEST_FILENAME
from .models import ManifestV2


def parse_manifest(data: Any, source: str | None = None) -> ManifestV2:
    """Validate already-loaded manifest data (e.g. given to custom collection)."""
    if not isinstance(data, dict):
        raise ManifestError(
            [
                ManifestProblem(
                    f"A manifest must be a JSON object, got {type(data).__name__}."
                )
            ],
            source,
        )
    try:
        return ManifestV2.model_validate(data)
    except ValidationError as error:
        problems = problems_from_validation_error(error, data)
        problems.extend(_duplicate_name_problems(data, problems))
        raise ManifestError(problems, source) from error


def _duplicate_name_problems(
    data: dict[str, Any], known: list[ManifestProblem]
) -> list[ManifestProblem]:
    """Repeated task names, reported even when other errors stopped validation."""
    if any(problem.field == "name" for problem in known):
        return []
    task_list = data.get("task_list")
    if not isinstance(task_list, list):
        return []
    seen: set[str] = set()
    problems = []
    for index, entry in enumerate(task_list):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            problems.append(
                ManifestProblem(
                    "Task names in manifest must be unique.",
                    field="name",
                    task_index=index,
                    task_name=name,
                )
            )
        seen.add(name)
    return problems


def load_manifest(path: str | Path) -> ManifestV2:
    """Load `__FRACTAL_MANIFEST__.json` (or the file at `path`, or in folder `path`)."""
    manifest_path = Path(path)
    if manifest_path.is_dir():
        manifest_path = manifest_path / MANIFEST_FILENAME
    source = str(manifest_path)
    try:
        raw = manifest_path.read_bytes()
    except OSError as error:
        raise ManifestError(
            [ManifestProblem(f"Cannot read the manifest: {error.strerror or error}.")],
            source,
        ) from error
    return parse_manifest_bytes(raw, source)


def parse_manifest_bytes(raw: bytes, source: str | None = None) -> ManifestV2:
    """Validate a manifest file's content, read as strict JSON.

    Content that is not UTF-8, not JSON, holds NaN or nests deeper than
    `MAX_JSON_DEPTH` raises `ManifestError` naming `source` and the problem.
    """
    try:
        data = parse_json_bytes(raw)
    except JsonTextError as error:
        reason = str(error)
        message = f"{reason[:1].upper()}{reason[1:]}."
        raise ManifestError([ManifestProblem(message)], source) from None
    return parse_manifest(data, source)


def tasks_from_manifest_file(
    path: str | Path,
    python_executable: str | Path,
    package_root: str | Path,
    package_version: str | None = None,
) -> list:
    """Load a manifest and build its tasks; errors name the file, task and field."""
    manifest = load_manifest(path)
    try:
        return manifest.to_tasks(python_executable, package_root, package_version)
    except ManifestError as error:
        raise ManifestError(error.problems, str(path)) from error
