"""Find OME-Zarr images in a folder, to build a dataset for `run --scan`.

An image is a folder whose `.zattrs` (Zarr v2) or `zarr.json` (Zarr v3,
under `attributes.ome`) has `multiscales`; the walk does not enter images
and never follows symbolic links. Images inside an HCS plate
(`<plate>.zarr/<row>/<column>/<image>`) get the `plate` and `well`
attributes, as fractal-tasks-core's converters set them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["find_ome_zarr_images"]

MAX_METADATA_BYTES = 10_000_000
MAX_DEPTH = 8


def _metadata(folder: Path) -> dict[str, Any]:
    """The OME attributes of a Zarr group ({} when there are none)."""
    for name, inner in ((".zattrs", None), ("zarr.json", "attributes")):
        path = folder / name
        try:
            if path.is_symlink() or not path.is_file():
                continue
            if path.stat().st_size > MAX_METADATA_BYTES:
                continue
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        if inner is not None:
            attributes = data.get(inner)
            data = (
                attributes.get("ome", attributes)
                if isinstance(attributes, dict)
                else {}
            )
        if isinstance(data, dict):
            return data
    return {}


def _plate_attributes(root: Path, image: Path) -> dict[str, str]:
    parts = image.relative_to(root).parts
    if len(parts) < 4 or not parts[-4].endswith(".zarr"):
        return {}
    plate_dir = image.parents[2]
    if "plate" not in _metadata(plate_dir):
        return {}
    return {"plate": parts[-4], "well": parts[-3] + parts[-2]}


def find_ome_zarr_images(zarr_dir: Path) -> list[dict[str, Any]]:
    """Images below `zarr_dir`, sorted by zarr_url, as image dicts."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[Path, int]] = [(zarr_dir, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            if "multiscales" in _metadata(path):
                found.append(
                    {
                        "zarr_url": str(path),
                        "attributes": _plate_attributes(zarr_dir, path),
                        "types": {},
                    }
                )
            elif depth < MAX_DEPTH:
                stack.append((path, depth + 1))
    return sorted(found, key=lambda image: image["zarr_url"])
