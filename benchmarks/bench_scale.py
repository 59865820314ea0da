"""Scale benchmark: the whole `run_job` path at 100,000 and 1,000,000 images.

For each size, in a child process of its own (so peak memory is that size's):

- `run_job` of one non-parallel task that returns nothing (every selected
  image counts as touched, the task's `output_types` reach all of them),
  through `LocalExecutor`, with the share of each stage: image selection,
  argument files, task process, output reading/validation, merge and apply,
  image changes, recorder (history units, per-image status, `task_applied`),
  job log and zip. Stages are timed by wrapping the engine's own functions.
- the same job done on a plain list of dicts with the reference's pure
  helpers (`filter_image_list`, a dict index for updates: the baseline);
- filtering N images by one type matching half (`filter_zarr_urls`, then
  `filter` copies, also with the GC paused) and by one selective attribute,
  vs `filter_image_list`;
- a task updating 1,000 of N images: the engine's post-processing (parse,
  merge, apply, image changes, new ImageList) and, with `--sqlite`, the
  SQLite repository's `task_applied` of those changes on a stored dataset.

Peak memory is the child's `ru_maxrss` (whole process, dataset included).
Run: python benchmarks/bench_scale.py [N ...] [--sqlite] (default 100000 1000000)
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TARGETS = {
    "run_job": 3.0,
    "filter type (zarr_urls)": 0.1,
    "filter attribute (zarr_urls)": 0.02,
    "update 1,000 (engine)": 0.05,
    "update 1,000 (SQLite)": 0.2,
}
WELLS = [f"{row}{col:02d}" for row in "ABCDEFGH" for col in range(1, 13)]
TASK = (
    "import sys\nopen(sys.argv[sys.argv.index('--out-json') + 1], 'w').write('null')\n"
)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def iter_images(zarr_dir: str, n: int) -> Iterator[dict[str, Any]]:
    """n images over 96 wells, half of them 3D, one unique attribute each."""
    for i in range(n):
        yield {
            "zarr_url": f"{zarr_dir}/plate.zarr/{WELLS[i % 96]}/{i}",
            "origin": None,
            "attributes": {"plate": "plate.zarr", "well": WELLS[i % 96], "i": i},
            "types": {"3D": i % 2 == 0},
        }


def make_images(zarr_dir: str, n: int) -> list[dict[str, Any]]:
    """The same images as one list of dicts (the baseline's form)."""
    return list(iter_images(zarr_dir, n))


class Stages:
    """Wall time per stage, by wrapping module functions (benchmark only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, module: Any, name: str, stage: str) -> None:
        func = getattr(module, name, None)
        if func is None:
            return
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start

        setattr(module, name, timed)


def instrument(stages: Stages) -> None:
    from fractal_core.engine import dispatch
    from fractal_core.engine import job
    from fractal_core.engine import runner

    stages.wrap(runner, "_select", "image selection")
    stages.wrap(dispatch, "write_args_files", "argument files")
    # Results are judged as they arrive: this stage holds the argument files
    # and output reading above, and the wait for the task processes.
    stages.wrap(dispatch, "_run_units", UNITS_STAGE)
    stages.wrap(dispatch, "_write_units", "argument files")  # older layout
    stages.wrap(dispatch, "_collect", "task process (wait)")  # older layout
    stages.wrap(dispatch, "_task_outcome", "output reading/validation")
    stages.wrap(dispatch, "_create_units", "recorder: units")
    stages.wrap(dispatch, "_cache", "recorder: per-image status")
    stages.wrap(dispatch, "_finish_units", "recorder: units")
    stages.wrap(runner, "_merge_and_apply", "merge + apply")
    stages.wrap(runner, "_list_changes", "image changes")
    stages.wrap(runner, "_record_applied", "recorder: task_applied")
    stages.wrap(runner, "_as_list", "image list in/out")
    # Names of the previous layout (dict index), to time an older checkout.
    stages.wrap(runner, "image_changes", "image changes")
    stages.wrap(runner, "_as_index", "image list in/out")
    stages.wrap(runner, "_to_image_list", "image list in/out")
    stages.wrap(job, "zip_folder", "job log + zip")


UNITS_STAGE = "units: files, processes, outputs"
INSIDE_UNITS = {"argument files", "output reading/validation"}


def nested_stage(stages: dict[str, float], stage: str) -> bool:
    """True for a stage timed inside the units stage (printed in parentheses)."""
    return stage in INSIDE_UNITS and UNITS_STAGE in stages


def timed_job(
    task: Any, dataset: Any, root: Path, workers: int, **kwargs: Any
) -> tuple[float, Any, Stages]:
    """`run_job` of a one-task workflow, timed by stage: (seconds, outcome, stages)."""
    from fractal_core import LocalExecutor
    from fractal_core import Workflow
    from fractal_core import run_job

    workflow = Workflow(name=task.name)
    workflow.append_task(task, validate_args=False)
    stages = Stages()
    instrument(stages)
    with LocalExecutor(max_workers=workers) as executor:
        start = time.perf_counter()
        outcome = run_job(
            workflow=workflow,
            dataset=dataset,
            executor=executor,
            working_dir=root / "job",
            **kwargs,
        )
        total = time.perf_counter() - start
    assert outcome.status == "done", outcome.log
    return total, outcome, stages


def child_run_job(n: int) -> dict[str, Any]:
    from fractal_core import Dataset
    from fractal_core import ImageList
    from fractal_core import Task

    root = Path(tempfile.mkdtemp(prefix="fc-scale-"))
    zarr_dir = str(root / "zarr")
    script = root / "task.py"
    script.write_text(TASK)
    start = time.perf_counter()
    # Streamed in: the process never holds the images as a list of dicts.
    images = ImageList(iter_images(zarr_dir, n), validate=False)
    dataset = Dataset(name="scale", zarr_dir=zarr_dir, images=images)
    build_s = time.perf_counter() - start
    rss_dataset = rss_mib()
    task = Task(
        name="touch",
        type="non_parallel",
        command_non_parallel=f"{sys.executable} -S {script}",
        output_types={"done": True},
    )
    total, outcome, stages = timed_job(
        task, dataset, root, 1, type_filters={"3D": True}
    )
    assert outcome.images is not None and len(outcome.images) == n
    return {
        "build_s": build_s,
        "rss_dataset": rss_dataset,
        "total": total,
        "stages": dict(stages.seconds),
        "rss": rss_mib(),
    }


def child_baseline(n: int) -> dict[str, Any]:
    """The same job on a plain list of dicts with the reference's pure helpers."""
    from fractal_core.images import filter_image_list

    root = Path(tempfile.mkdtemp(prefix="fc-scale-base-"))
    images = make_images(str(root / "zarr"), n)
    rss_dataset = rss_mib()
    start = time.perf_counter()
    selected = filter_image_list(images, type_filters={"3D": True})
    urls = [img["zarr_url"] for img in selected]
    (root / "args.json").write_text(json.dumps({"zarr_urls": urls}))
    updates = [
        {"zarr_url": url, "origin": None, "attributes": {}, "types": {}} for url in urls
    ]
    position = {img["zarr_url"]: i for i, img in enumerate(images)}
    new_images = list(images)
    for update in updates:
        i = position[update["zarr_url"]]
        old = new_images[i]
        new_images[i] = {
            **old,
            "attributes": {**old["attributes"], **update["attributes"]},
            "types": {**old["types"], **update["types"], "done": True},
        }
    total = time.perf_counter() - start
    return {"total": total, "rss_dataset": rss_dataset, "rss": rss_mib()}


def _timed(func: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of `repeat` calls (the machine is shared) and a result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def _timed_collected(func: Callable[[], Any]) -> float:
    """`_timed` from a just-collected heap: one side's garbage-collector debt
    (objects promoted since the last full pass) is not paid by the other."""
    gc.collect()
    return _timed(func)[0]


def _timed_no_gc(func: Callable[[], Any]) -> float:
    """`_timed` with the cyclic garbage collector paused (collected before)."""
    gc.collect()
    gc.disable()
    try:
        return _timed(func)[0]
    finally:
        gc.enable()


def child_queries(n: int, sqlite: bool) -> dict[str, Any]:
    from fractal_core.engine import runner
    from fractal_core.images import ImageList
    from fractal_core.images import filter_image_list

    zarr_dir = "/data/zarr"
    plain = make_images(zarr_dir, n)
    images = ImageList(plain, validate=False)
    out: dict[str, Any] = {}
    half: dict[str, Any] = {"3D": True}
    one_well: dict[str, Any] = {"well": ["C07"]}
    out["filter type (zarr_urls)"] = _timed(lambda: images.filter_zarr_urls(half))[0]
    out["filter type (copies)"] = _timed_collected(lambda: images.filter(half))
    out["baseline filter type"] = _timed_collected(
        lambda: filter_image_list(plain, half)
    )
    # The same two with the cyclic GC paused: the building work alone (with it
    # on, a full collection of the whole heap lands in most calls of either).
    out["filter type (copies, no GC)"] = _timed_no_gc(lambda: images.filter(half))
    out["baseline filter type (no GC)"] = _timed_no_gc(
        lambda: filter_image_list(plain, half)
    )
    images.filter_zarr_urls(None, one_well)  # first query may build an index
    out["filter attribute (zarr_urls)"] = _timed(
        lambda: images.filter_zarr_urls(None, one_well)
    )[0]
    out["baseline filter attribute"] = _timed(
        lambda: filter_image_list(plain, None, one_well)
    )[0]
    step = max(1, n // 1000)
    raw = {
        "image_list_updates": [
            {
                "zarr_url": f"{zarr_dir}/plate.zarr/{WELLS[i % 96]}/{i}",
                "attributes": {"checked": True},
            }
            for i in range(0, n, step)
        ][:1000]
    }
    seconds, (new_images, changes) = _timed(
        lambda: runner.apply_raw_output(images, raw, zarr_dir, {"checked": True})
    )
    out["update 1,000 (engine)"] = seconds
    assert len(changes.updated) == 1000 and len(new_images) == n
    if sqlite:
        out["update 1,000 (SQLite)"], out["sqlite store s"] = _sqlite_update(
            images, changes
        )
    return out


def _sqlite_update(images: Any, changes: Any) -> tuple[float, float]:
    from fractal_core.domain.dataset import Dataset
    from fractal_core.domain.project import Project
    from fractal_core.engine.recorder import TaskApplied
    from fractal_core.repository.sql import SQLStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(Path(tmp) / "scale.db")
        start = time.perf_counter()
        with store.unit_of_work() as uow:
            project = uow.projects.add(Project(name="scale"))
            ds = uow.datasets.add(
                Dataset.model_construct(
                    name="plate",
                    project_id=project.id,
                    zarr_dir="/data/zarr",
                    images=images,
                    timestamp_created=Project(name="x").timestamp_created,
                )
            )
            uow.commit()
        store_s = time.perf_counter() - start
        recorder = store.recorder()
        run_id = recorder.run_started(
            dataset_id=ds.id,
            workflowtask_id=1,
            job_id=1,
            task_id=1,
            workflowtask_dump={},
            task_group_dump={},
            num_available_images=len(images),
        )
        event = TaskApplied(
            job_id=1,
            dataset_id=ds.id,
            workflowtask_id=1,
            run_id=run_id,
            changes=changes,
            images=images,
            num_tasks=1,
            num_new_images=0,
        )
        seconds = _timed(lambda: recorder.task_applied(event))[0]
        store.close()
    return seconds, store_s


def run_child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(n: int, sqlite: bool) -> None:
    print(f"\n=== {n:,} images ===")
    engine = run_child(["run_job", str(n)])
    base = run_child(["baseline", str(n)])
    total = engine["total"]
    print(
        f"dataset build {engine['build_s']:.2f} s, process RSS after build "
        f"{engine['rss_dataset']:.0f} MiB"
    )
    verdict = "ok" if n < 1_000_000 or total < TARGETS["run_job"] else "SLOW"
    print(
        f"run_job (non-parallel, touch all):  {total:7.3f} s   peak RSS "
        f"{engine['rss']:6.0f} MiB   [{verdict}]"
    )
    print(
        f"list-of-dicts baseline (same job):  {base['total']:7.3f} s   peak RSS "
        f"{base['rss']:6.0f} MiB (dataset {base['rss_dataset']:.0f} MiB)"
    )
    stages = engine["stages"]
    outer = {k: v for k, v in stages.items() if not nested_stage(stages, k)}
    other = total - sum(outer.values())
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        name = f"  ({stage})" if nested_stage(stages, stage) else stage
        print(f"    {name:<32} {seconds:7.3f} s  {100 * seconds / total:5.1f} %")
    print(
        f"    {'other (job set-up, copies, log)':<32} {other:7.3f} s  "
        f"{100 * other / total:5.1f} %"
    )
    queries = run_child(["queries", str(n), "1" if sqlite else "0"])
    for label, seconds in queries.items():
        target = TARGETS.get(label)
        mark = (
            ""
            if target is None
            else (f"  (target < {target:g} s: {'ok' if seconds < target else 'SLOW'})")
        )
        print(f"  {label:<32} {seconds:8.4f} s{mark}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, n = sys.argv[2], int(sys.argv[3])
        if kind == "run_job":
            result = child_run_job(n)
        elif kind == "baseline":
            result = child_baseline(n)
        else:
            result = child_queries(n, sys.argv[4] == "1")
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--sqlite", action="store_true")
    opts = parser.parse_args()
    for n in opts.sizes:
        report(n, opts.sqlite)


if __name__ == "__main__":
    main()
