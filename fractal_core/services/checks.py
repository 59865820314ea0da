"""Pre-submission checks (spec §11): types with mixed values among the images
a task would get, and images the previous task has not processed.

Image statuses come from the store's history (`store.recorder()`), keyed by
workflow-task id as the engine records them for stored workflows.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from ..domain.history import HistoryUnitStatus
from ..images import IMAGE_STATUS_KEY
from ..images import aggregate_types
from ..images import filter_image_list
from ..images.status import enrich_images_with_status
from ..repository.base import NotFoundError
from ..repository.base import Store
from ..repository.base import UnitOfWork
from . import _lookup
from ._inputs import as_mapping
from .errors import WrongParentError

__all__ = ["check_non_processed_images", "verify_unique_types"]


def _status_pairs(
    store: Store, dataset_id: int, workflowtask_id: int, zarr_urls: list[str]
) -> list[tuple[str, str]]:
    statuses = store.recorder().image_status(dataset_id, workflowtask_id, zarr_urls)
    return [(url, status) for url, status in statuses.items() if status != "unset"]


def _check_task_in_project(
    uow: UnitOfWork, project_id: int, workflowtask_id: int
) -> None:
    """The workflow task must belong to a workflow of the project (weak point 19)."""
    for workflow in uow.workflows.list(project_id):
        if any(wft.id == workflowtask_id for wft in workflow.task_list):
            return
    for workflow in uow.workflows.list():
        if any(wft.id == workflowtask_id for wft in workflow.task_list):
            raise WrongParentError(
                "workflow_task", workflowtask_id, "project", project_id
            )
    raise NotFoundError(f"WorkflowTask {workflowtask_id} not found.")


def verify_unique_types(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflowtask_id: int,
    *,
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
) -> list[str]:
    """Sorted type names with both values among the selected images.

    A type missing from an image counts as False. A status filter
    (`IMAGE_STATUS_KEY` in `attribute_filters`) selects by the images'
    status for `workflowtask_id`.
    """
    with store.unit_of_work() as uow:
        _lookup.get_dataset(uow, project_id, dataset_id)
        _check_task_in_project(uow, project_id, workflowtask_id)
        images: list[dict[str, Any]] = uow.datasets.images(dataset_id).to_list()
    if type_filters is not None or attribute_filters is not None:
        attributes = as_mapping("attribute_filters", attribute_filters or {})
        if IMAGE_STATUS_KEY in attributes:
            urls = [image["zarr_url"] for image in images]
            images = enrich_images_with_status(
                images, _status_pairs(store, dataset_id, workflowtask_id, urls)
            )
        images = filter_image_list(
            images,
            type_filters=dict(type_filters or {}),
            attribute_filters=attributes,
        )
    values: dict[str, set[bool]] = {name: set() for name in aggregate_types(images)}
    for image in images:
        for name, seen in values.items():
            seen.add(image["types"].get(name, False))
    return sorted(name for name, seen in values.items() if len(seen) > 1)


def check_non_processed_images(
    store: Store,
    project_id: int,
    dataset_id: int,
    workflow_id: int,
    workflowtask_id: int,
    *,
    type_filters: Mapping[str, bool] | None = None,
    attribute_filters: Mapping[str, Sequence[Any]] | None = None,
) -> list[str]:
    """zarr_urls of the selected images the previous task has not done.

    Empty when the task is first, or the previous task has output types or
    is a converter. Dataset order is kept (the reference's is unspecified).
    """
    with store.unit_of_work() as uow:
        workflow, position = _lookup.get_workflow_task(
            uow, project_id, workflow_id, workflowtask_id
        )
        if position == 0:
            return []
        previous = workflow.task_list[position - 1]
        if previous.task.output_types or previous.task.task_type.is_converter:
            return []
        _lookup.get_dataset(uow, project_id, dataset_id)
        images = filter_image_list(
            uow.datasets.images(dataset_id).to_list(),
            type_filters=dict(type_filters or {}),
            attribute_filters=as_mapping("attribute_filters", attribute_filters or {}),
        )
    assert previous.id is not None
    urls = [image["zarr_url"] for image in images]
    statuses = store.recorder().image_status(dataset_id, previous.id, urls)
    return [url for url in urls if statuses[url] != HistoryUnitStatus.DONE]
