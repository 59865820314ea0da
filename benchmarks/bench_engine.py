"""Engine benchmarks: applying one large task output, and memory of big datasets.

(b) One task output that updates (or creates) N = 100,000 images: parsing of
    the raw JSON output (the engine's fast path, equal to the pydantic models'
    result), merge, uniqueness check and application, versus a
    reference-style implementation that scans the image list for every update
    (fractal-server 2.17.0), timed on smaller N since it is quadratic.
(c) Peak memory (tracemalloc) of a 100,000-image dataset and of one apply step.

Run: python benchmarks/bench_engine.py [N]
"""

from __future__ import annotations

import copy
import sys
import time
import tracemalloc
from typing import Any

from fractal_core.engine.apply import apply_task_output
from fractal_core.engine.fast_output import parse_task_output
from fractal_core.engine.outputs import merge_task_outputs
from fractal_core.engine.outputs import validate_task_output
from fractal_core.images.image_list import ImageList

ZARR_DIR = "/data/zarr"
# CPU time of this process: stable on a shared machine (wall time is not).
CLOCK = time.process_time


def make_images(n: int) -> list[dict[str, Any]]:
    return [
        {
            "zarr_url": f"{ZARR_DIR}/plate.zarr/A/{i:06d}/0",
            "origin": None,
            "attributes": {"well": f"A{i:06d}", "plate": "plate.zarr"},
            "types": {"3D": True},
        }
        for i in range(n)
    ]


def update_output(n: int) -> dict[str, Any]:
    return {
        "image_list_updates": [
            {
                "zarr_url": f"{ZARR_DIR}/plate.zarr/A/{i:06d}/0",
                "attributes": {"done": True},
            }
            for i in range(n)
        ]
    }


def create_output(n: int) -> dict[str, Any]:
    return {
        "image_list_updates": [
            {
                "zarr_url": f"{ZARR_DIR}/plate_mip.zarr/A/{i:06d}/0",
                "origin": f"{ZARR_DIR}/plate.zarr/A/{i:06d}/0",
                "attributes": {"plate": "plate_mip.zarr"},
            }
            for i in range(n)
        ]
    }


def engine_apply(
    images: list[dict[str, Any]], raw: dict[str, Any]
) -> tuple[float, float, int]:
    """Seconds for (validate, merge+check+apply) and the resulting list length."""
    index = {img["zarr_url"]: img for img in images}
    t0 = CLOCK()
    output = parse_task_output(raw)
    t1 = CLOCK()
    merged = merge_task_outputs([output], [])
    merged.check_zarr_urls_are_unique()
    applied = apply_task_output(
        index, merged, zarr_dir=ZARR_DIR, output_types={"3D": False}
    )
    t2 = CLOCK()
    return t1 - t0, t2 - t1, len(applied.images)


def reference_style_apply(images: list[dict[str, Any]], raw: dict[str, Any]) -> int:
    """The 2.17.0 post-processing shape: a scan of the list for every update."""
    output = validate_task_output(raw)
    tmp = copy.deepcopy(images)
    seen: list[dict[str, Any]] = []
    for img in output.image_list_updates:  # deduplicate_list (quadratic)
        dumped = img.model_dump()
        if dumped not in seen:
            seen.append(dumped)
    for update in seen:
        urls = [img["zarr_url"] for img in tmp]
        if update["zarr_url"] in urls:
            ind = next(
                i for i, img in enumerate(tmp) if img["zarr_url"] == update["zarr_url"]
            )
            new = dict(tmp[ind])
            new["attributes"] = {**new["attributes"], **update["attributes"]}
            new["types"] = {**new["types"], **update["types"], "3D": False}
            tmp[ind] = new
        else:
            origin = next((i for i in tmp if i["zarr_url"] == update["origin"]), None)
            base = dict(origin["attributes"]) if origin else {}
            base.update(update["attributes"])
            tmp.append({**update, "attributes": base})
    return len(tmp)


def bench_b(n: int) -> None:
    print(f"(b) one task output on a dataset of {n:,} images (CPU seconds)")
    images = make_images(n)
    for label, raw in (("update", update_output(n)), ("create", create_output(n))):
        validate_s, apply_s, length = engine_apply(images, raw)
        print(
            f"    engine {label} {n:,}: validate {validate_s:.3f} s + merge/apply "
            f"{apply_s:.3f} s = {validate_s + apply_s:.3f} s (result {length:,} images)"
        )
    t0 = CLOCK()
    validate_task_output(update_output(n))
    print(
        "    (pydantic-only validation of the same update output: "
        f"{CLOCK() - t0:.3f} s)"
    )
    for small in (1_000, 2_000, 4_000):
        imgs = make_images(small)
        raw = update_output(small)
        t0 = CLOCK()
        reference_style_apply(imgs, raw)
        ref_s = CLOCK() - t0
        v, a, _ = engine_apply(imgs, raw)
        print(
            f"    update {small:,}: reference-style nested scan {ref_s:.3f} s, "
            f"engine {v + a:.3f} s (x{ref_s / (v + a):.0f})"
        )
    print(
        "    (the nested scan grows as N^2: doubling N costs about 4x; at "
        f"{n:,} it would take roughly {ref_s * (n / 4_000) ** 2 / 60:.0f} min)"
    )


def bench_c(n: int) -> None:
    print(f"(c) peak memory (tracemalloc) for {n:,} images")
    tracemalloc.start()
    images = make_images(n)
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    image_list = ImageList(images)
    size, peak = tracemalloc.get_traced_memory()
    print(
        f"    plain list of dicts: {base / 2**20:.1f} MiB; ImageList built from it: "
        f"+{(size - base) / 2**20:.1f} MiB (peak +{(peak - base) / 2**20:.1f} MiB)"
    )
    del images
    index = {img["zarr_url"]: img for img in image_list}
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    merged = merge_task_outputs([parse_task_output(update_output(n))], [])
    applied = apply_task_output(index, merged, zarr_dir=ZARR_DIR, output_types={})
    after, peak = tracemalloc.get_traced_memory()
    print(
        f"    one apply step updating all {n:,}: "
        f"peak +{(peak - before) / 2**20:.1f} MiB, "
        f"retained +{(after - before) / 2**20:.1f} MiB ({len(applied.images):,} images)"
    )
    tracemalloc.stop()


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    bench_b(size)
    bench_c(size)
