"""Benchmark: filtering 1,000,000 images and applying 100,000 ImageList updates.

Prints wall-clock figures and the speed-up over the reference-style approach
(a plain list of dicts, with `find_image_by_zarr_url` linear scans per update).
The quadratic baseline is measured on a sample of updates and extrapolated.

Run: python benchmarks/bench_images.py [--images N] [--updates K]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from fractal_core.images import ImageList
from fractal_core.images import filter_image_list
from fractal_core.images import find_image_by_zarr_url

WELLS = [f"{row}{col:02d}" for row in "ABCDEFGH" for col in range(1, 13)]


def make_images(n: int) -> list[dict[str, Any]]:
    """n stored image dicts spread over 96 wells, half of them 3D."""
    return [
        {
            "zarr_url": f"/data/plate.zarr/{WELLS[i % 96]}/{i}",
            "origin": None,
            "attributes": {"plate": "plate.zarr", "well": WELLS[i % 96], "i": i},
            "types": {"3D": i % 2 == 0, "registered": i % 3 == 0},
        }
        for i in range(n)
    ]


def timed(label: str, func: Callable[[], Any]) -> tuple[float, Any]:
    """Run func once with the GC paused; print and return (seconds, result)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    print(f"  {label:<58} {elapsed:8.3f} s")
    return elapsed, result


def bench_filter(n: int) -> None:
    print(f"Filtering {n:,} images by one type and one attribute")
    plain = make_images(n)
    _, images = timed(
        "build ImageList (validate=False)", lambda: ImageList(plain, validate=False)
    )
    sample = plain[:100_000]
    timed(
        f"build ImageList (validate=True), {len(sample):,} images",
        lambda: ImageList(sample),
    )
    type_filters = {"3D": True}
    attribute_filters = {"well": ["A01"]}
    ours, result = timed(
        "ImageList.filter",
        lambda: images.filter(type_filters, attribute_filters),
    )
    base, expected = timed(
        "baseline: filter_image_list on a list of dicts",
        lambda: filter_image_list(plain, type_filters, attribute_filters),
    )
    assert result == expected, "ImageList.filter disagrees with filter_image_list"
    print(f"  matched {len(result):,} images; ratio baseline/ours = {base / ours:.2f}x")
    wide, wide_result = timed(
        "ImageList.filter, type only (50% match, copies returned)",
        lambda: images.filter({"3D": True}),
    )
    wide_base, wide_expected = timed(
        "baseline: filter_image_list, type only (50% match)",
        lambda: filter_image_list(plain, {"3D": True}),
    )
    assert wide_result == wide_expected, "type-only filter disagrees"
    print(
        f"  matched {len(wide_result):,} images; ratio baseline/ours = "
        f"{wide_base / wide:.2f}x (ours builds 3 dicts per image, the baseline 1)"
    )
    timed(
        "ImageList.filter_zarr_urls, type only (no copies)",
        lambda: images.filter_zarr_urls({"3D": True}),
    )


def bench_updates(n: int, k: int, baseline_sample: int) -> None:
    print(f"\nApplying {k:,} updates to a list of {n:,} images")
    plain = make_images(n)
    urls = [img["zarr_url"] for img in plain]
    targets = [urls[(i * 7919) % n] for i in range(k)]

    figures = {}
    for validate in (False, True):
        # bulk-loaded without validation; the updates are validated or not
        images = (
            ImageList.trusted(plain) if validate else ImageList(plain, validate=False)
        )

        def run(images: ImageList = images) -> None:
            for j, url in enumerate(targets):
                images.update(url, attributes={"score": j}, types={"done": True})

        ours, _ = timed(f"ImageList.update x {k:,} (validate={validate})", run)
        print(f"    {ours / k * 1e6:.2f} us per update")
        figures[validate] = ours

    sample = targets[:baseline_sample]

    def reference_style() -> None:
        for j, url in enumerate(sample):
            found = find_image_by_zarr_url(images=plain, zarr_url=url)
            assert found is not None
            image = found["image"]
            image["attributes"] = {**image["attributes"], "score": j}
            image["types"] = {**image["types"], "done": True}
            plain[found["index"]] = image

    base_sample, _ = timed(
        f"baseline: find_image_by_zarr_url scan x {baseline_sample:,}",
        reference_style,
    )
    base = base_sample * k / baseline_sample
    print(f"  baseline extrapolated to {k:,} updates: {base:.1f} s")
    for validate, ours in figures.items():
        print(f"  ratio baseline/ours (validate={validate}) = {base / ours:,.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--update-list-size", type=int, default=100_000)
    parser.add_argument("--baseline-sample", type=int, default=500)
    args = parser.parse_args()
    bench_filter(args.images)
    bench_updates(args.update_list_size, args.updates, args.baseline_sample)


if __name__ == "__main__":
    main()
