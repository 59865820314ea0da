"""Export datasets to, and import them from, fractal-server's JSON format.

A dataset file holds ``name``, ``zarr_dir`` and the full image list in stored
order; ids, project and legacy filters are not part of it (legacy filter keys
in old files are ignored on import). The file shapes are the domain's
``DatasetImport``/``DatasetExport``; this module adds files and the 2.18+
project-dir rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.dataset import DatasetExport
from fractal_core.domain.dataset import DatasetImport
from fractal_core.io._files import read_json_file
from fractal_core.io._files import write_json_file
from fractal_core.io.errors import DatasetImportError
from fractal_core.types import is_url_inside
from fractal_core.types import normalize_url

__all__ = [
    "check_zarr_dir_in_project_dirs",
    "export_dataset",
    "export_dataset_file",
    "import_dataset",
    "import_dataset_file",
    "parse_dataset_import",
]


def export_dataset(dataset: Any) -> dict[str, Any]:
    """``{name, zarr_dir, images}`` of a dataset (images in stored order)."""
    images: Iterable[Mapping[str, Any]] = dataset.images
    export = DatasetExport(
        name=dataset.name,
        zarr_dir=dataset.zarr_dir,
        images=[dict(image) for image in images],
    )
    return export.model_dump(mode="json")


def export_dataset_file(dataset: Any, path: str | Path) -> Path:
    """Write ``export_dataset(dataset)`` to ``path`` as JSON."""
    return write_json_file(export_dataset(dataset), path)


def check_zarr_dir_in_project_dirs(zarr_dir: str, project_dirs: Sequence[str]) -> None:
    """Refuse a ``zarr_dir`` outside every project dir of the user (2.18+ rule).

    The project dir itself is accepted, as ``Path.is_relative_to`` does.
    """
    for project_dir in project_dirs:
        if normalize_url(project_dir) == zarr_dir or is_url_inside(
            zarr_dir, project_dir
        ):
            return
    raise DatasetImportError(
        f"Cannot import dataset: zarr_dir={zarr_dir!r} is not relative to any "
        f"of the user's project dirs {list(project_dirs)}."
    )


def parse_dataset_import(
    data: Mapping[str, Any] | DatasetImport,
    *,
    project_dirs: Sequence[str] | None = None,
) -> DatasetImport:
    """Validate a dataset file's content.

    Images must lie strictly below ``zarr_dir`` and be unique
    (``pydantic.ValidationError`` naming the image otherwise); with
    ``project_dirs`` given, ``zarr_dir`` must lie in one of them
    (``DatasetImportError``).
    """
    parsed = (
        data if isinstance(data, DatasetImport) else DatasetImport.model_validate(data)
    )
    if project_dirs is not None:
        check_zarr_dir_in_project_dirs(parsed.zarr_dir, project_dirs)
    return parsed


def import_dataset(
    data: Mapping[str, Any] | DatasetImport,
    *,
    project_dirs: Sequence[str] | None = None,
    **fields: Any,
) -> Dataset:
    """A new ``Dataset`` from a file's content, plus ``fields`` (e.g. project_id)."""
    parsed = parse_dataset_import(data, project_dirs=project_dirs)
    return Dataset.from_import(parsed, **fields)


def import_dataset_file(
    path: str | Path,
    *,
    project_dirs: Sequence[str] | None = None,
    **fields: Any,
) -> Dataset:
    """``import_dataset`` on the JSON content of ``path``.

    Every problem with the file, schema violations included, raises
    ``DatasetImportError`` naming the file (the pydantic error is its cause).
    """
    data = read_json_file(path, DatasetImportError)
    if not isinstance(data, Mapping):
        raise DatasetImportError(f"{path} does not hold a JSON object.")
    try:
        return import_dataset(data, project_dirs=project_dirs, **fields)
    except ValidationError as error:
        raise DatasetImportError(
            f"{path} is not a valid dataset file: {error}"
        ) from error
