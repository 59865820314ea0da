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

from ..images.image_list import ImageList
from ..images.image_list import select_stored
from ..images.store import ImageStore
from ..images.tools import merge_type_filters

__all__ = ["Selection", "effective_type_filters", "select_images"]


@dataclass
class Selection:
    """The images a task runs on and the filters that chose them.

    Selected from an `ImageList`, it holds zarr_urls and positions in the
    list's store (`positions`); `images` then builds image dicts on demand.
    """

    images: Sequence[Mapping[str, Any]] = field(default_factory=list)
    num_available: int = 0
    type_filters: dict[str, bool] = field(default_factory=dict)
    urls: list[str] | None = None
    positions: list[int] | None = None

    @property
    def zarr_urls(self) -> list[str]:
        if self.urls is not None:
            return self.urls
        return [img["zarr_url"] for img in self.images]

    def __len__(self) -> int:
        return len(self.urls) if self.urls is not None else len(self.images)

    def keep(self, wanted: Sequence[bool]) -> Selection:
        """The selection restricted to the images whose flag is True (in order)."""
        urls = [u for u, ok in zip(self.zarr_urls, wanted, strict=True) if ok]
        positions = None
        if self.positions is not None:
            positions = [p for p, ok in zip(self.positions, wanted, strict=True) if ok]
        images: Sequence[Mapping[str, Any]] = (
            [i for i, ok in zip(self.images, wanted, strict=True) if ok]
            if self.urls is None
            else _Rows(self.images, positions)
        )
        return Selection(
            images=images,
            num_available=self.num_available,
            type_filters=self.type_filters,
            urls=urls if self.urls is not None else None,
            positions=positions,
        )


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
    if isinstance(images, ImageList):
        return _select_from_list(images, type_filters, attribute_filters or {})
    type_filtered = list(select_stored(images, tuple(type_filters.items()), ()))
    selected = (
        list(select_stored(type_filtered, (), tuple(attribute_filters.items())))
        if attribute_filters
        else type_filtered
    )
    return Selection(
        images=selected, num_available=len(type_filtered), type_filters=type_filters
    )


def _select_from_list(
    images: ImageList,
    type_filters: dict[str, bool],
    attribute_filters: Mapping[str, Sequence[Any]],
) -> Selection:
    """Selection from an ImageList: positions and zarr_urls, no image dict built."""
    num_available, positions = images._select_split(type_filters, attribute_filters)
    store = images._store
    return Selection(
        images=_Rows(images, positions),
        num_available=num_available,
        type_filters=type_filters,
        urls=store.urls_at(positions),
        positions=positions,
    )


class _Rows(Sequence[Mapping[str, Any]]):
    """Image dicts of selected positions, built one at a time when read."""

    def __init__(self, images: Any, positions: list[int] | None) -> None:
        # A fork: later changes to the list never show through (O(1)).
        self._store: ImageStore = (
            images._store if isinstance(images, _Rows) else images._fork()
        )
        self._positions = positions or []

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, i: Any) -> Any:
        image = self._store.image
        if isinstance(i, slice):
            return [image(p) for p in self._positions[i]]
        return image(self._positions[i])
