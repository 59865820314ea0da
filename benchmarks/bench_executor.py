"""LocalExecutor overhead over a bare thread pool running the same subprocesses.

N trivial units (`true --args-json A --out-json O`, output to a log file) run
through `LocalExecutor` and through a plain `ThreadPoolExecutor` of the same
size calling `subprocess.run`. Rounds alternate between the two to spread
machine noise; the medians and their ratio are printed. Target: overhead <= 5 %.

    python benchmarks/bench_executor.py [--units 1000] [--workers 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fractal_core.executors import LocalExecutor
from fractal_core.executors import WorkUnit


def make_units(folder: Path, n_units: int, command: str) -> list[WorkUnit]:
    """N units with their argument files written (as the engine would)."""
    folder.mkdir(parents=True)
    units = []
    for i in range(n_units):
        args_file = folder / f"{i:07d}-args.json"
        args_file.write_text(json.dumps({"zarr_url": f"/data/{i}"}))
        units.append(
            WorkUnit(
                id=str(i),
                command=command,
                args_file=args_file,
                output_file=folder / f"{i:07d}-metadiff.json",
                log_file=folder / f"{i:07d}-log.txt",
            )
        )
    return units


def bare_one(unit: WorkUnit, executable: str) -> int:
    """The floor: run the process, log to its file, look for its output."""
    argv = [
        executable,
        "--args-json",
        str(unit.args_file),
        "--out-json",
        str(unit.output_file),
    ]
    with open(unit.log_file, "wb") as log:
        returncode = subprocess.run(
            argv, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    unit.output_file.exists()
    return returncode


Timing = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def run_bare(units: list[WorkUnit], workers: int, executable: str) -> Timing:
    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(lambda u: bare_one(u, executable), units))
    timing = (time.perf_counter() - start, time.process_time() - cpu)
    assert codes == [0] * len(units)
    return timing


def run_executor(units: list[WorkUnit], workers: int) -> Timing:
    start, cpu = time.perf_counter(), time.process_time()
    with LocalExecutor(max_workers=workers) as executor:
        results = executor.submit(units).results()
    timing = (time.perf_counter() - start, time.process_time() - cpu)
    assert all(result.ok for result in results.values())
    return timing


def report(name: str, timings: list[Timing], n_units: int) -> tuple[float, float]:
    """Print median and best wall time and median parent CPU; return medians."""
    walls = [wall for wall, _ in timings]
    cpus = [cpu for _, cpu in timings]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"{name:<24} wall median {wall:.3f} s ({wall / n_units * 1e3:.3f} ms/unit), "
        f"best {min(walls):.3f} s; parent CPU median {cpu:.3f} s"
    )
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    ns = parser.parse_args()
    executable = shutil.which("true")
    assert executable is not None
    bare: list[Timing] = []
    local: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(ns.rounds):
            base = Path(tmp) / f"round{round_index}"
            units_a = make_units(base / "bare", ns.units, executable)
            units_b = make_units(base / "local", ns.units, executable)
            if round_index % 2:
                local.append(run_executor(units_b, ns.workers))
                bare.append(run_bare(units_a, ns.workers, executable))
            else:
                bare.append(run_bare(units_a, ns.workers, executable))
                local.append(run_executor(units_b, ns.workers))
    print(f"units={ns.units} workers={ns.workers} rounds={ns.rounds}")
    bare_wall, bare_cpu = report("bare ThreadPoolExecutor", bare, ns.units)
    local_wall, local_cpu = report("LocalExecutor", local, ns.units)
    best = min(w for w, _ in local) / min(w for w, _ in bare)
    print(
        f"overhead ratio (wall, median): {local_wall / bare_wall:.3f}; "
        f"(wall, best): {best:.3f}; (parent CPU): {local_cpu / bare_cpu:.3f}"
    )


if __name__ == "__main__":
    main()
