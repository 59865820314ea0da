"""Large parallelisation lists: N trivial units through `LocalExecutor`.

For each size (default 10,000 and 100,000), in a child process of its own:
`run_job` of one parallel task over N images (one unit per image, the cap
`EngineSettings.max_parallelization_list_size` raised to N), whose command is
`true` (a real process per unit that ignores its arguments and writes no
output). Printed: wall time, per-unit cost, each stage's share (the
`bench_scale` stage wrappers), the child's peak RSS, and its RSS sampled
while the units run (first/middle/last third: flat means no per-unit growth).

Run: python benchmarks/bench_units.py [N ...] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_scale import iter_images  # noqa: E402
from bench_scale import nested_stage  # noqa: E402
from bench_scale import rss_mib  # noqa: E402
from bench_scale import timed_job  # noqa: E402

PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_MIB


class RssSampler:
    """RSS every `interval` seconds from a thread, while a job runs."""

    def __init__(self, interval: float = 0.25) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._interval = interval

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.samples.append(current_rss_mib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def thirds(self) -> list[float]:
        """Peak RSS in the first, middle and last third of the run."""
        n = len(self.samples)
        if n < 3:
            return [max(self.samples, default=0.0)] * 3
        cut = [0, n // 3, 2 * n // 3, n]
        return [max(self.samples[cut[i] : cut[i + 1]]) for i in range(3)]


def child(n: int, workers: int) -> dict[str, Any]:
    from fractal_core import Dataset
    from fractal_core import ImageList
    from fractal_core import Task
    from fractal_core.engine import EngineSettings

    root = Path(tempfile.mkdtemp(prefix="fc-units-"))
    zarr_dir = str(root / "zarr")
    dataset = Dataset(
        name="units",
        zarr_dir=zarr_dir,
        images=ImageList(iter_images(zarr_dir, n), validate=False),
    )
    task = Task(
        name="trivial",
        type="parallel",
        command_parallel=shutil.which("true") or "/bin/true",
        output_types={"done": True},
    )
    rss_before = current_rss_mib()
    with RssSampler() as sampler:
        total, outcome, stages = timed_job(
            task,
            dataset,
            root,
            workers,
            settings=EngineSettings(max_parallelization_list_size=n),
        )
    assert outcome.images is not None
    assert len(outcome.images.filter_zarr_urls({"done": True})) == n
    shutil.rmtree(root, ignore_errors=True)
    return {
        "total": total,
        "stages": dict(stages.seconds),
        "rss_before": rss_before,
        "rss_thirds": sampler.thirds(),
        "rss_peak": rss_mib(),
    }


def report(n: int, workers: int) -> None:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(n), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    total = result["total"]
    thirds = ", ".join(f"{v:.0f}" for v in result["rss_thirds"])
    print(f"\n=== {n:,} units, {workers} workers ===")
    print(
        f"run_job: {total:8.2f} s   {1e3 * total / n:6.3f} ms/unit   "
        f"peak RSS {result['rss_peak']:.0f} MiB (before the job "
        f"{result['rss_before']:.0f} MiB; while running, by thirds: {thirds} MiB)"
    )
    stages = result["stages"]
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        name = f"  ({stage})" if nested_stage(stages, stage) else stage
        print(f"    {name:<32} {seconds:8.3f} s  {100 * seconds / total:5.1f} %")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    opts = parser.parse_args()
    for n in opts.sizes:
        report(n, opts.workers)


if __name__ == "__main__":
    main()
