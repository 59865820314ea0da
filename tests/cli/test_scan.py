"""Finding OME-Zarr images in a folder (`run --scan`)."""

from __future__ import annotations

import json
from pathlib import Path

from fractal_core.cli.scan import find_ome_zarr_images


def group(folder: Path, attrs: dict, v3: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if v3:
        (folder / "zarr.json").write_text(
            json.dumps({"zarr_format": 3, "attributes": {"ome": attrs}})
        )
    else:
        (folder / ".zattrs").write_text(json.dumps(attrs))


def test_images_plates_v3_and_what_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "zarr"
    group(root / "plate.zarr", {"plate": {}})
    group(root / "plate.zarr" / "A" / "01" / "0", {"multiscales": [{}]})
    group(root / "plate.zarr" / "A" / "01" / "0" / "labels" / "x", {"multiscales": []})
    group(root / "single.zarr", {"multiscales": [{}]}, v3=True)
    group(root / "broken.zarr", {})
    (root / "broken.zarr" / ".zattrs").write_text("{not json")
    outside = tmp_path / "outside.zarr"
    group(outside, {"multiscales": [{}]})
    (root / "link.zarr").symlink_to(outside)
    images = find_ome_zarr_images(root)
    assert images == [
        {
            "zarr_url": f"{root}/plate.zarr/A/01/0",
            "attributes": {"plate": "plate.zarr", "well": "A01"},
            "types": {},
        },
        {"zarr_url": f"{root}/single.zarr", "attributes": {}, "types": {}},
    ]


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    assert find_ome_zarr_images(tmp_path) == []
    assert find_ome_zarr_images(tmp_path / "missing") == []
