"""Benchmark: one workflow step updating 100,000 images, persisted by the store.

For each backend (in memory, SQLite file, PostgreSQL) it times:

- the engine's in-memory apply of the step (`apply_task_output` on the image
  index, plus `image_changes`), the same for every backend;
- `recorder.task_applied` of that step: every image updated in place (new
  attribute, new type), one transaction;
- `image_status` of the 100,000-image dataset for the step's workflow task
  (the cache written by `image_cache_set` for 100,000 images in 1,000 units).

PostgreSQL: give `--postgres-url postgresql+psycopg://...`, or let the script
start a private server from /usr/lib/postgresql/*/bin (as the tests do).

Run: python benchmarks/bench_repository.py [--images N] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.project import Project
from fractal_core.engine.apply import apply_task_output
from fractal_core.engine.outputs import MergedOutput
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.recorder import NewUnit
from fractal_core.engine.recorder import TaskApplied
from fractal_core.engine.runner import image_changes
from fractal_core.images import ImageList
from fractal_core.repository.sql import SQLStore

ZARR_DIR = "/data/plate.zarr"
WELLS = [f"{row}{col:02d}" for row in "ABCDEFGH" for col in range(1, 13)]
UNITS = 1000
TARGET_APPLY_S = 2.0
TARGET_STATUS_S = 0.5


def make_images(n: int) -> list[dict[str, Any]]:
    return [
        {
            "zarr_url": f"{ZARR_DIR}/{WELLS[i % 96]}/{i}",
            "origin": None,
            "attributes": {"well": WELLS[i % 96], "i": i},
            "types": {"3D": True},
        }
        for i in range(n)
    ]


def timed(label: str, func: Callable[[], Any], target: float | None = None) -> Any:
    gc.collect()
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    verdict = "" if target is None else ("  ok" if elapsed < target else "  SLOW")
    target_text = "" if target is None else f" (target < {target:g} s)"
    print(f"  {label:<52} {elapsed:8.3f} s{target_text}{verdict}")
    return result


def in_memory_step(images: ImageList) -> tuple[MergedOutput, Any]:
    """What the engine does in memory for the step: apply, then diff."""
    output = MergedOutput(
        image_list_updates=[
            {
                "zarr_url": image["zarr_url"],
                "attributes": {"checked": True},
                "types": {},
            }
            for image in images
        ]
    )
    index = {image["zarr_url"]: image for image in images}
    applied = apply_task_output(
        index, output, zarr_dir=ZARR_DIR, output_types={"registered": True}
    )
    return output, image_changes(index, applied)


def record_history(recorder: Any, dataset_id: Any, urls: list[str]) -> int:
    run_id: int = recorder.run_started(
        dataset_id=dataset_id,
        workflowtask_id=1,
        job_id=1,
        task_id=1,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=len(urls),
    )
    per_unit = max(1, len(urls) // UNITS)
    batches = [urls[i : i + per_unit] for i in range(0, len(urls), per_unit)]
    ids = recorder.units_created(run_id, [NewUnit("/log", b) for b in batches])
    recorder.units_finished(ids, HistoryStatus.DONE)
    recorder.image_cache_set(
        dataset_id=dataset_id,
        workflowtask_id=1,
        latest_unit={
            url: uid for uid, b in zip(ids, batches, strict=True) for url in b
        },
    )
    return run_id


def bench_backend(name: str, store: SQLStore | None, images: list[dict]) -> None:
    print(f"{name}: {len(images):,} images")
    image_list = ImageList(images, validate=False)
    if store is None:
        recorder: Any = InMemoryRecorder()
        dataset_id: Any = 1
    else:
        recorder = store.recorder()

        def create() -> int:
            with store.unit_of_work() as uow:
                project = uow.projects.add(Project(name="bench"))
                ds = uow.datasets.add(
                    Dataset.model_construct(
                        name="plate",
                        project_id=project.id,
                        zarr_dir=ZARR_DIR,
                        images=image_list,
                        timestamp_created=Project(name="x").timestamp_created,
                    )
                )
                uow.commit()
            return ds.id  # type: ignore[return-value]

        dataset_id = timed("store the dataset (one row per image)", create)
    urls = image_list.zarr_urls()
    run_id = timed(
        f"history: run, {UNITS} units, image cache",
        lambda: record_history(recorder, dataset_id, urls),
    )
    _, changes = timed(
        "engine: in-memory apply of the step", lambda: in_memory_step(image_list)
    )
    new_list = ImageList(changes.updated, validate=False)
    event = TaskApplied(
        job_id=1,
        dataset_id=dataset_id,
        workflowtask_id=1,
        run_id=run_id,
        changes=changes,
        images=new_list,
        num_tasks=UNITS,
        num_new_images=0,
    )
    timed(
        f"task_applied: {len(changes.updated):,} images updated",
        lambda: recorder.task_applied(event),
        TARGET_APPLY_S,
    )
    statuses = timed(
        "image_status of the dataset",
        lambda: recorder.image_status(dataset_id, 1),
        TARGET_STATUS_S,
    )
    assert len(statuses) == len(images), len(statuses)
    if store is not None:
        with store.unit_of_work() as uow:
            first = uow.datasets.query_images(dataset_id, page_size=1).items[0]
        assert first["attributes"]["checked"] is True, first
        assert first["types"]["registered"] is True, first


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str | None]:
    if url is not None:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        from tests.fidelity.postgres import PostgresUnavailable
        from tests.fidelity.postgres import private_postgres
    except ImportError:
        yield None
        return
    try:
        with private_postgres(database="bench") as pg:
            yield f"postgresql+psycopg://{pg.user}@{pg.host}:{pg.port}/{pg.database}"
    except PostgresUnavailable as reason:
        print(f"PostgreSQL skipped: {reason}")
        yield None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--postgres-url")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    images = make_images(args.images)
    bench_backend("in memory", None, images)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(Path(tmp) / "bench.db")
        bench_backend("SQLite file", store, images)
        store.close()
    if args.no_postgres:
        return
    with postgres(args.postgres_url) as url:
        if url is not None:
            store = SQLStore(url)
            bench_backend("PostgreSQL", store, images)
            store.close()


if __name__ == "__main__":
    main()
