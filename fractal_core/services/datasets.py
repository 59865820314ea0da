"""Datasets: create, read, list, update, delete, export, import (spec §4).

`zarr_dir` is normalised; when absent it is derived from the caller's
`project_dir` as the reference does
(`<project_dir>/fractal/<project id>_<project name>/<dataset id>_<dataset name>`,
names sanitised), inside the same transaction that allocates the id, so no
placeholder is ever committed. `zarr_dir` is frozen once the dataset has
images. Deletion is refused while a job on the dataset is `submitted`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from ..domain.dataset import Dataset
from ..domain.dataset import DatasetImport
from ..domain.updates import DatasetUpdate
from ..io.dataset_io import export_dataset as _export_dataset
from ..io.dataset_io import import_dataset as _import_dataset
from ..repository.base import Store
from ..types import AttributeFilters
from ..types import ZarrDirStr
from ..types import normalize_url
from ..types import sanitize_string
from . import _lookup
from ._inputs import as_mapping
from ._inputs import refuse_nul
from .errors import ActiveJobError
from .errors import ZarrDirFrozenError
from .errors import ZarrDirRequiredError

__all__ = [
    "create_dataset",
    "default_zarr_dir",
    "delete_dataset",
    "export_dataset",
    "get_dataset",
    "import_dataset",
    "list_datasets",
    "update_dataset",
]

_ZARR_DIR: TypeAdapter[str] = TypeAdapter(ZarrDirStr)
_ATTRIBUTE_FILTERS: TypeAdapter[dict[str, list[Any]]] = TypeAdapter(AttributeFilters)
_PLACEHOLDER = "/__fractal_core_placeholder__"


def default_zarr_dir(
    project_dir: str,
    *,
    project_id: int,
    project_name: str,
    dataset_id: int,
    dataset_name: str,
) -> str:
    """The reference's derived `zarr_dir` of a dataset created without one."""
    return normalize_url(
        f"{project_dir}/fractal/{project_id}_{sanitize_string(project_name)}/"
        f"{dataset_id}_{sanitize_string(dataset_name)}"
    )


def create_dataset(
    store: Store,
    project_id: int,
    name: str,
    *,
    zarr_dir: str | None = None,
    project_dir: str | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
) -> Dataset:
    """A new, empty dataset of the project.

    `attribute_filters` are validated and dropped, as the reference does
    (dataset-level filters were removed in 2.11).
    """
    refuse_nul(name=name, zarr_dir=zarr_dir, attribute_filters=attribute_filters)
    if attribute_filters:
        _ATTRIBUTE_FILTERS.validate_python(
            as_mapping("attribute_filters", attribute_filters)
        )
    if zarr_dir is None and project_dir is None:
        raise ZarrDirRequiredError(name)
    with store.unit_of_work() as uow:
        project = _lookup.get_project(uow, project_id)
        given = _ZARR_DIR.validate_python(zarr_dir) if zarr_dir is not None else None
        dataset = uow.datasets.add(
            Dataset(name=name, project_id=project_id, zarr_dir=given or _PLACEHOLDER)
        )
        if given is None:
            assert dataset.id is not None and project_dir is not None
            dataset = dataset.model_copy(
                update={
                    "zarr_dir": default_zarr_dir(
                        project_dir,
                        project_id=project_id,
                        project_name=project.name,
                        dataset_id=dataset.id,
                        dataset_name=dataset.name,
                    )
                }
            )
            uow.datasets.update(dataset)
        uow.commit()
    return dataset


def get_dataset(
    store: Store, project_id: int, dataset_id: int, *, with_images: bool = False
) -> Dataset:
    """One dataset of the project (images loaded only when asked)."""
    with store.unit_of_work() as uow:
        return _lookup.get_dataset(uow, project_id, dataset_id, with_images=with_images)


def list_datasets(store: Store, project_id: int | None = None) -> list[Dataset]:
    """Datasets of a project (or of every project), by id, without images."""
    with store.unit_of_work() as uow:
        if project_id is not None:
            _lookup.get_project(uow, project_id)
        datasets = uow.datasets.list(project_id)
    return sorted(datasets, key=lambda d: d.id or 0)


def update_dataset(
    store: Store,
    project_id: int,
    dataset_id: int,
    *,
    name: str | None = None,
    zarr_dir: str | None = None,
) -> Dataset:
    """Rename a dataset and/or change its `zarr_dir` (only while it has no image)."""
    refuse_nul(name=name, zarr_dir=zarr_dir)
    renamed = DatasetUpdate(name=name) if name is not None else DatasetUpdate()
    with store.unit_of_work() as uow:
        dataset = _lookup.get_dataset(uow, project_id, dataset_id)
        updated = renamed.apply(dataset)
        if zarr_dir is not None:
            new_dir = _ZARR_DIR.validate_python(zarr_dir)
            if uow.datasets.query_images(dataset_id, page_size=1).total_count:
                raise ZarrDirFrozenError(dataset_id)
            updated = updated.model_copy(update={"zarr_dir": new_dir})
        uow.datasets.update(updated)
        uow.commit()
    return updated


def delete_dataset(store: Store, project_id: int, dataset_id: int) -> None:
    """Delete a dataset, its images and history; refused while a job runs on it.

    Its jobs stay, with `dataset_id` set to `None`.
    """
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        active = _lookup.submitted_job_ids(uow, dataset_id=dataset_id)
        if active:
            raise ActiveJobError(
                "dataset",
                dataset_id,
                active,
                f"Cannot delete dataset {dataset_id} because it is linked to "
                f"active job(s) {active}.",
            )
        uow.datasets.delete(dataset_id)
        uow.commit()


def export_dataset(store: Store, project_id: int, dataset_id: int) -> dict[str, Any]:
    """The dataset file content: `name`, `zarr_dir`, all images in stored order."""
    dataset = get_dataset(store, project_id, dataset_id, with_images=True)
    return _export_dataset(dataset)


def import_dataset(
    store: Store,
    project_id: int,
    data: Mapping[str, Any] | DatasetImport,
    *,
    project_dirs: Sequence[str] | None = None,
) -> Dataset:
    """A new dataset of the project from a dataset file's content.

    Images must lie strictly inside `zarr_dir` and be unique (checked as for
    single additions; the reference checks only a string prefix); legacy
    filter keys are ignored; with `project_dirs`, `zarr_dir` must lie in one.
    """
    refuse_nul(data=data)
    dataset = _import_dataset(data, project_dirs=project_dirs, project_id=project_id)
    with store.unit_of_work() as uow:
        _lookup.get_project(uow, project_id)
        stored = uow.datasets.add(dataset)
        uow.commit()
    return stored
