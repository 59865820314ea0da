"""Engine overhead per unit: a parallel task over N images vs a bare thread pool.

The engine run does everything a real job does: image selection, one argument file
per image, submission to `LocalExecutor`, output reading and validation, history
records, the image-list update. The floor runs the same N subprocesses (same
command, same argument and log files) from a plain `ThreadPoolExecutor` of the same
size. Rounds alternate to spread machine noise; medians and ratios are printed for
wall time and for the parent process's CPU time. Target: overhead <= 5 %.

Two task commands: `true` (a near-free process, the harshest case for overhead)
and a Python script that reads its arguments and writes `null` (a real task's
floor).

    python benchmarks/bench_engine_overhead.py [--units 1000] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fractal_core import Dataset
from fractal_core import LocalExecutor
from fractal_core import Task
from fractal_core import Workflow
from fractal_core import run_workflow
from fractal_core.engine import EngineSettings

PY_TASK = """\
import json, sys
args = json.load(open(sys.argv[sys.argv.index("--args-json") + 1]))
json.dump(None, open(sys.argv[sys.argv.index("--out-json") + 1], "w"))
"""


def engine_run(root: Path, n_units: int, workers: int, command: str) -> None:
    """One parallel task over `n_units` images through the engine."""
    zarr_dir = root / "zarr"
    images = [{"zarr_url": f"{zarr_dir}/img{i:06d}"} for i in range(n_units)]
    dataset = Dataset(name="bench", zarr_dir=str(zarr_dir), images=images)
    task = Task(name="bench", type="parallel", command_parallel=command)
    workflow = Workflow(name="bench")
    workflow.append_task(task, validate_args=False)
    settings = EngineSettings(parallel_tasks_per_job=workers)
    (root / "job").mkdir()
    with LocalExecutor(max_workers=workers) as executor:
        run_workflow(
            wf_task_list=workflow.task_list,
            dataset=dataset,
            executor=executor,
            workflow_dir_local=root / "job",
            settings=settings,
        )


def bare_run(root: Path, n_units: int, workers: int, command: str) -> None:
    """The floor: write N argument files, run N processes, look for outputs."""
    folder = root / "bare"
    folder.mkdir(parents=True)
    argv0 = command.split()

    def one(i: int) -> int:
        args_file = folder / f"{i:07d}-args.json"
        args_file.write_text(json.dumps({"zarr_url": f"/zarr/img{i:06d}"}))
        out = folder / f"{i:07d}-out.json"
        argv = [*argv0, "--args-json", str(args_file), "--out-json", str(out)]
        with open(folder / f"{i:07d}-log.txt", "wb") as log:
            code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT).returncode
        if out.exists() and out.stat().st_size:
            json.loads(out.read_text())
        return code

    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(one, range(n_units)))
    assert not any(codes), "a bare-pool unit failed"


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, parent CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(label: str, command: str, units: int, workers: int, rounds: int) -> None:
    engine_wall, engine_cpu, bare_wall, bare_cpu = [], [], [], []
    for _ in range(rounds):
        for runner, walls, cpus in (
            (bare_run, bare_wall, bare_cpu),
            (engine_run, engine_wall, engine_cpu),
        ):
            root = Path(tempfile.mkdtemp(prefix="fc-bench-"))
            try:
                wall, cpu = timed(runner, root, units, workers, command)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            walls.append(wall)
            cpus.append(cpu)
    bw, ew = statistics.median(bare_wall), statistics.median(engine_wall)
    bc, ec = statistics.median(bare_cpu), statistics.median(engine_cpu)
    print(f"\n{label}: {units} units, {workers} workers, {rounds} rounds (medians)")
    print(f"  bare pool  wall {bw:7.3f} s   parent CPU {bc:7.3f} s")
    print(f"  engine     wall {ew:7.3f} s   parent CPU {ec:7.3f} s")
    per_unit_ms = (ew - bw) / units * 1000
    print(
        f"  ratio      wall {ew / bw:7.3f}     CPU {ec / bc:7.3f}"
        f"   (overhead {per_unit_ms:+.3f} ms per unit)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    true = shutil.which("true") or "/bin/true"
    compare("`true`", true, opts.units, opts.workers, opts.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "task.py"
        script.write_text(PY_TASK)
        command = f"{sys.executable} -S {script}"
        compare("python task", command, opts.units, opts.workers, opts.rounds)


if __name__ == "__main__":
    main()
