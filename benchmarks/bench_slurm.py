"""SlurmExecutor on the local test cluster: N trivial units, calls and overhead.

N units (`true --args-json A --out-json O`) run once through `LocalExecutor`
(2 workers, the cluster's CPU count) and once through `SlurmExecutor` on the
single-node cluster of `tests/slurm` (started if needed, released at the
end). The units are packed into at most `--jobs` SLURM jobs of 2 slots each
(the reference's heuristics, branch 4). Printed: the number of `sbatch`,
`squeue`, `scontrol` and status-listing calls, the wall time of both runs,
and the SLURM overhead per unit over the local executor.

Then (unless `--no-ssh`) the same units run over SSH: `SSHHost` logged in as
the test user on the suite's private sshd (`tests/ssh`), unit files in that
user's folder (args files sent by tar, outputs and logs fetched by tar).
Printed as well: SSH commands in all, SSH commands per watcher round while
polling, SFTP operations, and the overhead per unit over the local executor.

    python benchmarks/bench_slurm.py [--units 1000] [--jobs 10] [--poll 1.0] [--no-ssh]

Needs root (or an already running test cluster and sshd).
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


def make_units(folder: Path, n_units: int, remote: str | None = None) -> list[WorkUnit]:
    """Trivial units; with `remote`, their files live there on the host too."""
    folder.mkdir(parents=True)
    units = []
    for i in range(n_units):
        args_file = folder / f"{i:07d}-args.json"
        args_file.write_text(json.dumps({"zarr_url": f"/data/{i}"}))
        names = (f"{i:07d}-args.json", f"{i:07d}-metadiff.json", f"{i:07d}-log.txt")
        units.append(
            WorkUnit(
                id=str(i),
                command="true",
                args_file=args_file,
                output_file=folder / names[1],
                log_file=folder / names[2],
                args_file_remote=None if remote is None else f"{remote}/{names[0]}",
                output_file_remote=None if remote is None else f"{remote}/{names[1]}",
                log_file_remote=None if remote is None else f"{remote}/{names[2]}",
            )
        )
    return units


def run_over_ssh(
    ns: argparse.Namespace, env: Mapping[str, str], local_s: float
) -> None:
    """The same units through SlurmExecutor on an SSHHost; print its figures."""
    from fractal_core.hosts import SSHHost
    from tests.ssh import sshd as test_sshd

    server = test_sshd.start()
    root = Path(tempfile.mkdtemp(prefix="bench_slurm_ssh_"))
    root.chmod(0o777)
    try:
        e = server.endpoint
        host = SSHHost(e.host, e.user, port=e.port, key_path=e.key_path, env=env)
        remote = f"{root}/remote"
        host.mkdir(remote)
        watcher = SlurmWatcher(host, env=env, interval=ns.poll)
        executor = SlurmExecutor(
            host,
            remote_workdir=f"{remote}/slurm",
            resource=resource(ns.jobs),
            slurm_env=env,
            watcher=watcher,
        )
        units = make_units(root / "units", ns.units, remote=f"{remote}/units")
        shared = host._shared
        start = time.perf_counter()
        handle = executor.submit(units)
        submit_s = time.perf_counter() - start
        after_submit = shared.commands
        results = handle.results()
        total_s = time.perf_counter() - start
        executor.shutdown()
        failed = [r for r in results.values() if not r.ok]
        assert not failed, failed[:3]
        rounds = max(1, watcher.stats.rounds)
        n = ns.units
        print("--- over SSH (SSHHost on loopback, unit files by tar) ---")
        print(f"sbatch calls:          {executor.sbatch_calls}")
        print(f"squeue calls:          {watcher.stats.squeue} ({rounds} rounds)")
        print(f"SSH commands:          {shared.commands} ({after_submit} to submit)")
        print(
            "SSH commands per poll: "
            f"{(shared.commands - after_submit) / rounds:.1f} "
            "(squeue + status listing per running handle + fetches)"
        )
        print(f"SFTP operations:       {shared.sftp_ops}")
        print(f"submit() returned in:  {submit_s:.2f} s")
        print(f"SLURM over SSH total:  {total_s:.1f} s")
        print(
            "overhead per unit:     "
            f"{(total_s - local_s) / n * 1000:.0f} ms over the local executor"
        )
        host.close()
    finally:
        test_sshd.stop(server)
        shutil.rmtree(root, ignore_errors=True)


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
    parser.add_argument("--no-ssh", action="store_true", help="skip the SSH run")
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
        if not ns.no_ssh:
            run_over_ssh(ns, running.env, local_s)
    finally:
        test_cluster.release(running)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
