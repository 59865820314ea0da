"""Write a tiny synthetic OME-Zarr HCS plate for tests against real Fractal tasks.

Run with the python of a venv where ngio (and tifffile) are installed, e.g. the
fractal-tasks-core venv:  python make_synthetic_plate.py ZARR_DIR

It writes, deterministically (fixed random seed):
- ZARR_DIR/synth.zarr: OME-NGFF 0.4 plate "synth", one acquisition (id 0),
  wells B/03 and B/05 with one image each at path "0";
- each image: czyx (2, 4, 64, 64) uint16, one resolution level, pixel size
  0.65 um (yx) and 1 um (z), channels DAPI (A01_C01) and GFP (A01_C02), tables
  FOV_ROI_table and well_ROI_table (anndata, one ROI covering the image), and
  3 (B03) or 2 (B05) bright disks of radius 6 px over noise of about 200;
- ZARR_DIR/illum_profiles/flat_A01_C01.tif, flat_A01_C02.tif: 64x64 float32
  flat-field profiles (all ones).
It prints a JSON summary (plate folder, image zarr URLs, disk counts) on stdout.
Not `ngio.create_synthetic_ome_zarr`: that one downloads sample data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tifffile
from ngio import create_empty_plate
from ngio import create_ome_zarr_from_array
from ngio.ome_zarr_meta.ngio_specs import Channel

SHAPE = (2, 4, 64, 64)  # c, z, y, x
RADIUS = 6
CHANNELS = (("DAPI", "A01_C01"), ("GFP", "A01_C02"))
# well -> disk centres (y, x); the number of disks differs per well on purpose
WELLS = {
    ("B", "03"): [(16, 16), (16, 46), (46, 30)],
    ("B", "05"): [(20, 22), (44, 42)],
}


def synthetic_image(centres: list[tuple[int, int]], seed: int) -> np.ndarray:
    """Noise around 200 plus bright disks, brightest in the middle z planes."""
    rng = np.random.default_rng(seed)
    data = rng.normal(200, 10, size=SHAPE).clip(0, None)
    yy, xx = np.mgrid[0 : SHAPE[2], 0 : SHAPE[3]]
    z_profile = np.array([0.5, 1.0, 1.0, 0.5])
    for channel, brightness in enumerate((3000, 1500)):
        for cy, cx in centres:
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= RADIUS**2
            for z in range(SHAPE[1]):
                data[channel, z][disk] += brightness * z_profile[z]
    return data.astype(np.uint16)


def main(zarr_dir: Path) -> dict[str, object]:
    zarr_dir.mkdir(parents=True, exist_ok=True)
    plate_path = zarr_dir / "synth.zarr"
    plate = create_empty_plate(store=plate_path, name="synth", ngff_version="0.4")
    images = []
    for seed, ((row, column), centres) in enumerate(WELLS.items()):
        plate.add_image(row=row, column=column, image_path="0", acquisition_id=0)
        store = plate_path / row / column / "0"
        container = create_ome_zarr_from_array(
            store=store,
            array=synthetic_image(centres, seed),
            axes_names=["c", "z", "y", "x"],
            pixelsize=0.65,
            z_spacing=1.0,
            levels=1,
            channels_meta=[
                Channel.default_init(label=label, wavelength_id=wavelength)
                for label, wavelength in CHANNELS
            ],
            ngff_version="0.4",
        )
        for table_name in ("FOV_ROI_table", "well_ROI_table"):
            container.add_table(
                table_name, container.build_image_roi_table(), backend="anndata"
            )
        images.append(
            {"zarr_url": str(store), "well": f"{row}{column}", "disks": len(centres)}
        )
    profiles = zarr_dir / "illum_profiles"
    profiles.mkdir(exist_ok=True)
    for _, wavelength in CHANNELS:
        tifffile.imwrite(
            profiles / f"flat_{wavelength}.tif", np.ones(SHAPE[2:], dtype=np.float32)
        )
    return {"plate": str(plate_path), "images": images}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} ZARR_DIR")
    print(json.dumps(main(Path(sys.argv[1]))))
