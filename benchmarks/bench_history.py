"""Benchmark: the history services on a 100,000-image dataset.

For each backend (in memory, SQLite file, PostgreSQL) one workflow task has
one run of 1,000 units over all images (a third each done, failed,
submitted), and the script times the services a web page would call:

- `workflow_tasks_status` (target < 0.5 s, as the issue's status query);
- `history_images`, first page of 50, no filter and with the status filter
  `["failed"]`, and a type filter on top;
- `history_run_units`, page 3 of 100, and with `unit_status="failed"`.

Run: python benchmarks/bench_history.py [--images N] [--no-postgres]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_repository import make_images
from bench_repository import postgres

from fractal_core import services as sv
from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.engine.recorder import ImageChanges
from fractal_core.engine.recorder import NewUnit
from fractal_core.images import IMAGE_STATUS_KEY
from fractal_core.repository.base import Store
from fractal_core.repository.memory import MemoryStore
from fractal_core.repository.sql import SQLStore

UNITS = 1000
TARGET_STATUS_S = 0.5
STATUSES = [HistoryStatus.DONE, HistoryStatus.FAILED, HistoryStatus.SUBMITTED]


def fill(store: Store, images: list[dict[str, Any]]) -> tuple[int, int, int, int, int]:
    """Project, dataset with the images, workflow with one task, one run."""
    project = sv.create_project(store, "bench")
    assert project.id is not None
    ds = sv.create_dataset(store, project.id, "ds", zarr_dir="/data")
    wf = sv.create_workflow(store, project.id, "wf")
    assert ds.id is not None and wf.id is not None
    with store.unit_of_work() as uow:
        uow.datasets.apply_image_changes(ds.id, ImageChanges(created=images))
        group = uow.task_groups.add(
            TaskGroup(
                origin="other",
                pkg_name="bench",
                version="1",
                task_list=[Task(name="t", type="parallel", command_parallel="x")],
            )
        )
        uow.commit()
    task_id = group.task_list[0].id
    assert task_id is not None
    wft = sv.create_workflow_task(store, project.id, wf.id, task_id)
    assert wft.id is not None
    run_id = record(store, ds.id, wft.id, [image["zarr_url"] for image in images])
    return project.id, ds.id, wf.id, wft.id, run_id


def record(store: Store, dataset_id: int, wft_id: int, urls: list[str]) -> int:
    recorder = store.recorder()
    run = recorder.run_started(
        dataset_id=dataset_id,
        workflowtask_id=wft_id,
        job_id=None,
        task_id=None,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=len(urls),
    )
    per_unit = -(-len(urls) // UNITS)
    chunks = [urls[i : i + per_unit] for i in range(0, len(urls), per_unit)]
    unit_ids = recorder.units_created(run, [NewUnit("/log", c) for c in chunks])
    for index, status in enumerate(STATUSES):
        recorder.units_finished(unit_ids[index::3], status)
    latest = {
        url: uid for uid, chunk in zip(unit_ids, chunks, strict=True) for url in chunk
    }
    recorder.image_cache_set(
        dataset_id=dataset_id, workflowtask_id=wft_id, latest_unit=latest
    )
    return run


def timed(label: str, call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = call()
    print(f"  {label:<48} {time.perf_counter() - start:7.3f} s")
    return result


def bench(name: str, store: Store, images: list[dict[str, Any]]) -> None:
    print(f"{name} ({len(images):,} images, {UNITS:,} units)")
    p, d, w, t, run = fill(store, images)
    start = time.perf_counter()
    status = sv.workflow_tasks_status(store, p, d, w)
    took = time.perf_counter() - start
    verdict = "ok" if took < TARGET_STATUS_S else "OVER TARGET"
    print(f"  {'workflow_tasks_status':<48} {took:7.3f} s  ({verdict})")
    assert status[t] is not None and status[t]["num_done_images"] > 0
    page = timed(
        "history_images, page 1 of 50",
        lambda: sv.history_images(store, p, d, t, page_size=50),
    )
    assert page.total_count == len(images)
    failed = timed(
        "history_images, status failed, page 1 of 50",
        lambda: sv.history_images(
            store,
            p,
            d,
            t,
            attribute_filters={IMAGE_STATUS_KEY: ["failed"]},
            page_size=50,
        ),
    )
    assert all(i["attributes"][IMAGE_STATUS_KEY] == "failed" for i in failed.items)
    timed(
        "history_images, type 3D + well A01 + failed",
        lambda: sv.history_images(
            store,
            p,
            d,
            t,
            type_filters={"3D": True},
            attribute_filters={"well": ["A01"], IMAGE_STATUS_KEY: ["failed"]},
            page_size=50,
        ),
    )
    units = timed(
        "history_run_units, page 3 of 100",
        lambda: sv.history_run_units(store, p, d, t, run, page=3, page_size=100),
    )
    assert units.total_count == UNITS and len(units.items) == 100
    timed(
        "history_run_units, failed only",
        lambda: sv.history_run_units(store, p, d, t, run, unit_status="failed"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--postgres-url")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    images = make_images(args.images)
    bench("in memory", MemoryStore(), images)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(Path(tmp) / "bench.db")
        bench("SQLite file", store, images)
        store.close()
    if args.no_postgres:
        return
    with postgres(args.postgres_url) as url:
        if url is not None:
            store = SQLStore(url)
            bench("PostgreSQL", store, images)
            store.close()


if __name__ == "__main__":
    main()
