"""The image-list update rules: how a task's merged output changes the images.

Works on an ordered `dict[zarr_url, image dict]` (the same layout as inside
`ImageList`), so each update, insertion and removal is O(1) and one task output
costs O(k) for k changes instead of the reference's O(k·N) nested scans.
Atomic: the input mapping is never modified; a new one is returned only if
every update and removal succeeded.

Rules (execution spec §4), for each update `u`, in order:
1. existing image, `u.origin` None or equal to `u.zarr_url`: edit in place
   (keep its origin key if it has one, merge attributes, merge types);
2. existing image, other `u.origin`: rebuild from the origin image's
   attributes/types (empty if the origin is unknown), replacing in place;
3. new image: must lie strictly inside `zarr_dir`; built from the origin (if
   known) and appended, always with an `origin` key.
Attributes set to None are dropped; types precedence is base < `u.types` <
the task's `output_types`. Then removals, each of which must exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ..images.index import shared_types
from ..types.urls import url_inside_checker
from ._gc import gc_paused
from .errors import MissingImageError
from .errors import NewImageOutsideZarrDirError
from .outputs import ERROR_CHARS
from .outputs import MergedOutput
from .outputs import excerpt

__all__ = ["AppliedOutput", "ImageIndex", "apply_task_output", "touch_images"]

ImageDict = dict[str, Any]
ImageIndex = dict[str, ImageDict]


@dataclass
class AppliedOutput:
    """The new image index and what changed (zarr_urls, in application order)."""

    images: ImageIndex
    updated: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # True when `updated` holds distinct zarr_urls whose content did change.
    updated_are_changes: bool = False

    @property
    def num_new_images(self) -> int:
        return len(self.created)


def _merge_attributes(base: Mapping[str, Any], new: Mapping[str, Any]) -> ImageDict:
    """Base attributes updated by the new ones; a None value unsets the key."""
    merged = {**base, **new}
    if any(value is None for value in new.values()):
        return {key: value for key, value in merged.items() if value is not None}
    return merged


def _origin_base(
    images: ImageIndex, origin: str | None
) -> tuple[Mapping[str, Any], Mapping[str, bool]]:
    if origin is None:
        return {}, {}
    origin_image = images.get(origin)
    if origin_image is None:
        return {}, {}
    return origin_image["attributes"], origin_image["types"]


def apply_task_output(
    images: Mapping[str, ImageDict],
    output: MergedOutput,
    *,
    zarr_dir: str,
    output_types: Mapping[str, bool],
    pause_gc: bool = False,
) -> AppliedOutput:
    """Apply `output` to a copy of `images`; return the copy and the changes.

    `output` must already be de-duplicated and checked for unique zarr_urls.
    Raises NewImageOutsideZarrDirError or MissingImageError (both
    TaskOutputApplicationError) and leaves `images` untouched.
    Stored image dicts are shared with the input, never mutated: every changed
    image is a new dict. `pause_gc=True` pauses the process-wide cyclic garbage
    collector meanwhile (faster on huge outputs; see `_gc`).
    """
    with gc_paused(pause_gc):
        return _apply(images, output, zarr_dir=zarr_dir, output_types=output_types)


def _apply(
    images: Mapping[str, ImageDict],
    output: MergedOutput,
    *,
    zarr_dir: str,
    output_types: Mapping[str, bool],
) -> AppliedOutput:
    work: ImageIndex = dict(images)
    result = AppliedOutput(images=work)
    is_inside = url_inside_checker(zarr_dir)
    out_types = dict(output_types)
    for update in output.image_list_updates:
        zarr_url: str = update["zarr_url"]
        origin: str | None = update.get("origin")
        existing = work.get(zarr_url)
        if existing is not None:
            if origin is None or origin == zarr_url:
                new_image: ImageDict = {"zarr_url": zarr_url}
                if "origin" in existing:
                    new_image["origin"] = existing["origin"]
                base_attrs, base_types = existing["attributes"], existing["types"]
            else:
                new_image = {"zarr_url": zarr_url, "origin": origin}
                base_attrs, base_types = _origin_base(work, origin)
            new_image["attributes"] = _merge_attributes(
                base_attrs, update.get("attributes") or {}
            )
            new_image["types"] = shared_types(
                {**base_types, **(update.get("types") or {}), **out_types}
            )
            work[zarr_url] = new_image
            result.updated.append(zarr_url)
        else:
            if not is_inside(zarr_url):
                raise NewImageOutsideZarrDirError(
                    "Cannot create image if zarr_url is not a subfolder of "
                    f"zarr_dir.\nzarr_dir: {excerpt(zarr_dir, ERROR_CHARS)}\n"
                    f"zarr_url: {excerpt(zarr_url, ERROR_CHARS)}"
                )
            base_attrs, base_types = _origin_base(work, origin)
            work[zarr_url] = {
                "zarr_url": zarr_url,
                "origin": origin,
                "attributes": _merge_attributes(
                    base_attrs, update.get("attributes") or {}
                ),
                "types": shared_types(
                    {**base_types, **(update.get("types") or {}), **out_types}
                ),
            }
            result.created.append(zarr_url)
    for zarr_url in output.image_list_removals:
        if zarr_url not in work:
            raise MissingImageError(
                "Cannot remove missing image "
                f"(zarr_url={excerpt(zarr_url, ERROR_CHARS)})."
            )
        del work[zarr_url]
        result.removed.append(zarr_url)
    return result


def touch_images(
    images: Mapping[str, ImageDict],
    zarr_urls: Iterable[str],
    *,
    output_types: Mapping[str, bool],
) -> AppliedOutput:
    """Apply an empty update to each of `zarr_urls` (all present in `images`).

    The result of `apply_task_output` with `{"zarr_url": url}` updates (a task
    that returned nothing: its `output_types` reach every input image), at a
    fraction of the cost: the new types dict is computed once per distinct
    types dict, and an image whose types do not change keeps its dict.
    `updated` lists only the images whose content changed.
    """
    work: ImageIndex = dict(images)
    result = AppliedOutput(images=work, updated_are_changes=True)
    if not output_types:
        return result
    out_types = dict(output_types)
    transitions: dict[int, tuple[dict[str, bool], dict[str, bool] | None]] = {}
    for zarr_url in zarr_urls:
        image = work[zarr_url]
        types = image["types"]
        known = transitions.get(id(types))
        if known is None:
            merged = {**types, **out_types}
            new_types = None if merged == types else shared_types(merged)
            known = transitions[id(types)] = (types, new_types)
        new_types = known[1]
        if new_types is not None:
            work[zarr_url] = {**image, "types": new_types}
            result.updated.append(zarr_url)
    return result
