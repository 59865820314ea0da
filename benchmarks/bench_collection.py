"""Time each collection / lifecycle operation on the testkit wheel, locally.

Builds the testkit wheel (`pip wheel --no-deps`), then times: collect (venv with
--copies, install, freeze, manifest), deactivate, reactivate, delete; and the
bare `python -m venv --copies` step alone for comparison. No pip upgrade (offline).

    python benchmarks/bench_collection.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fractal_core.collection import CollectionSettings
from fractal_core.collection import collect_wheel
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import reactivate
from fractal_core.collection.wheels import build_wheel

SOURCE = (
    Path(__file__).resolve().parents[1] / "tests/task_packages/fractal_tasks_testkit"
)


def main() -> None:
    """Run the rounds and print median seconds per operation."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = build_wheel(SOURCE, work / "dist")
        for r in range(rounds):
            settings = CollectionSettings.for_current_python(
                str(work / f"tasks{r}"), upgrade_pip=False
            )
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "venv", "--copies", str(work / f"v{r}")],
                check=True,
            )
            times.setdefault("bare venv --copies", []).append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = collect_wheel(wheel, settings=settings).raise_for_failure()
            times.setdefault("collect", []).append(time.perf_counter() - t0)
            group = res.task_group
            assert group is not None
            for name, op in (
                ("deactivate", deactivate),
                ("reactivate", reactivate),
                ("delete", delete),
            ):
                t0 = time.perf_counter()
                op(group, settings=settings).raise_for_failure()
                times.setdefault(name, []).append(time.perf_counter() - t0)
    for name, values in times.items():
        print(
            f"{name:22s} median {statistics.median(values):6.2f} s"
            f"  ({len(values)} runs)"
        )


if __name__ == "__main__":
    main()
