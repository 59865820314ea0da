"""SlurmExecutor on the local test cluster: N trivial units, calls and overhead.

N units (`true --args-json A --out-json O`) run once through `LocalExecutor`
(2 workers, the cluster's CPU count) and once through `SlurmExecutor` on the
single-node cluster of `tests/slurm` (started if needed, released at the
end). The units are packed into at most `--jobs` SLURM jobs of 2 slots each
(the reference's heuristics, branch 4). Printed: the number of `sbatch`,
`squeue`, `scontrol` and status-listing calls, the wall time of both runs,
and the SLURM overhead per unit over the local executor.

    python benchmarks/bench_slurm.py [--units 1000] [--jobs 10] [--poll 1.0]

Needs root (or an already running test cluster).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fractal_core.executors import LocalExecutor  # noqa: E402
from fractal_core.executors import WorkUnit  # noqa: E402
from fractal_core.executors.slurm import SlurmBatchingConfig  # noqa: E402
from fractal_core.executors.slurm import SlurmExecutor  # noqa: E402
from fractal_core.executors.slurm import SlurmOptions  # noqa: E402
from fractal_core.executors.slurm import SlurmResourceConfig  # noqa: E402
from fractal_core.executors.slurm import SlurmWatcher  # noqa: E402
from fractal_core.hosts import LocalHost  # noqa: E402
from fractal_core.hosts.base import CommandResult  # noqa: E402
from fractal_core.hosts.base import OutputCallback  # noqa: E402


class CountingHost(LocalHost):
    """`LocalHost` counting the programs it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        name = str(argv[0])
        self.counts[name] = self.counts.get(name, 0) + 1
        return super().run(argv, env=env, cwd=cwd, timeout=timeout, on_output=on_output)


def make_units(folder: Path, n_units: int) -> list[WorkUnit]:
    folder.mkdir(parents=True)
    units = []
    for i in range(n_units):
        args_file = folder / f"{i:07d}-args.json"
        args_file.write_text(json.dumps({"zarr_url": f"/data/{i}"}))
        units.append(
            WorkUnit(
                id=str(i),
                command="true",
                args_file=args_file,
                output_file=folder / f"{i:07d}-metadiff.json",
                log_file=folder / f"{i:07d}-log.txt",
            )
        )
    return units


def resource(max_jobs: int) -> SlurmResourceConfig:
    return SlurmResourceConfig(
        default_slurm_config=SlurmOptions(partition="main", cpus_per_task=1, mem=100),
        batching_config=SlurmBatchingConfig(
            target_num_jobs=max_jobs,
            max_num_jobs=max_jobs,
            target_cpus_per_job=2,
            max_cpus_per_job=2,
            target_mem_per_job=1000,
            max_mem_per_job=1000,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--poll", type=float, default=1.0)
    ns = parser.parse_args()

    from tests.slurm import cluster as test_cluster

    running = test_cluster.start(lease=True)
    root = Path(tempfile.mkdtemp(prefix="bench_slurm_"))
    try:
        local_units = make_units(root / "local", ns.units)
        start = time.perf_counter()
        with LocalExecutor(max_workers=2) as local:
            assert all(r.ok for r in local.submit(local_units).results().values())
        local_s = time.perf_counter() - start

        host = CountingHost()
        watcher = SlurmWatcher(host, env=running.env, interval=ns.poll)
        executor = SlurmExecutor(
            host,
            remote_workdir=str(root / "slurm"),
            resource=resource(ns.jobs),
            slurm_env=running.env,
            watcher=watcher,
        )
        units = make_units(root / "units", ns.units)
        start = time.perf_counter()
        handle = executor.submit(units)
        submit_s = time.perf_counter() - start
        results = handle.results()
        slurm_s = time.perf_counter() - start
        executor.shutdown()
        failed = [r for r in results.values() if not r.ok]
        assert not failed, failed[:3]
        n = ns.units
        print(f"units:                 {n}")
        print(f"SLURM jobs:            {len(set(handle.native_ids().values()))}")
        print(f"sbatch calls:          {host.counts.get('sbatch', 0)}")
        print(f"squeue calls:          {host.counts.get('squeue', 0)}")
        print(f"scontrol calls:        {host.counts.get('scontrol', 0)}")
        print(f"sacct calls:           {host.counts.get('sacct', 0)}")
        print(f"status listings:       {host.counts.get('grep', 0)}")
        print(f"submit() returned in:  {submit_s:.2f} s")
        print(f"SLURM total:           {slurm_s:.1f} s")
        print(f"LocalExecutor total:   {local_s:.1f} s (2 workers)")
        print(
            "overhead per unit:     "
            f"{(slurm_s - local_s) / n * 1000:.0f} ms "
            f"(SLURM {slurm_s / n * 1000:.0f} ms/unit, local {local_s / n * 1000:.1f})"
        )
    finally:
        test_cluster.release(running)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
