"""Which images a task receives: type filters, then the job's attribute filters.

Effective type filters = the job's running type filters, updated key by key
with (task input types merged with the workflow task's type filters). Converter
tasks receive no images. `num_available` counts images before attribute
filtering, as the reference's `HistoryRun.num_available_images` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ..images.image_list import select_stored
from ..images.tools import merge_type_filters

__all__ = ["Selection", "effective_type_filters", "select_images"]


@dataclass
class Selection:
    """The images a task runs on and the filters that chose them."""

    images: list[Mapping[str, Any]] = field(default_factory=list)
    num_available: int = 0
    type_filters: dict[str, bool] = field(default_factory=dict)

    @property
    def zarr_urls(self) -> list[str]:
        return [img["zarr_url"] for img in self.images]


def effective_type_filters(
    current_type_filters: Mapping[str, bool],
    task_input_types: Mapping[str, bool],
    wftask_type_filters: Mapping[str, bool],
) -> dict[str, bool]:
    """Running filters updated by task input types + workflow-task filters.

    Raises IncompatibleTypeFiltersError (a ValueError) when the task's input
    types and the workflow task's filters disagree on a key. Never mutates
    its arguments (2.18.5 fix).
    """
    patch = merge_type_filters(
        task_input_types=task_input_types, wftask_type_filters=wftask_type_filters
    )
    filters = dict(current_type_filters)
    filters.update(patch)
    return filters


def select_images(
    images: Iterable[Mapping[str, Any]],
    *,
    is_converter: bool,
    current_type_filters: Mapping[str, bool],
    task_input_types: Mapping[str, bool],
    wftask_type_filters: Mapping[str, bool],
    attribute_filters: Mapping[str, Sequence[Any]] | None,
) -> Selection:
    """The images one workflow task runs on, in image-list order.

    The selected dicts are the input's own (not copies: read them only), so
    selecting from a million images allocates no image.
    """
    if is_converter:
        return Selection()
    type_filters = effective_type_filters(
        current_type_filters, task_input_types, wftask_type_filters
    )
    type_filtered = list(select_stored(images, tuple(type_filters.items()), ()))
    selected = (
        list(select_stored(type_filtered, (), tuple(attribute_filters.items())))
        if attribute_filters
        else type_filtered
    )
    return Selection(
        images=selected, num_available=len(type_filtered), type_filters=type_filters
    )
