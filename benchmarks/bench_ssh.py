"""1,000 small files to and from an SSH host: one tar stream vs one SFTP call each.

Starts the test suite's private sshd on loopback (tests/ssh/sshd.py: root, or
sshd and the test user already present), writes 1,000 unit-sized JSON files and
times `put_many`/`get_many` (one tar stream each way) against `put`/`get` per
file, plus one trivial command (round-trip latency). Loopback hides network
latency, so the per-file figures are a lower bound of what a real link costs.

    python benchmarks/bench_ssh.py [--files 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fractal_core.hosts import SSHHost  # noqa: E402
from tests.ssh import sshd as _sshd  # noqa: E402


def _timed(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    """Print median seconds for each way of moving the files."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    server = _sshd.start()
    try:
        e = server.endpoint
        host = SSHHost(e.host, e.user, port=e.port, key_path=e.key_path)
        remote = f"/tmp/fractal_core_bench_ssh/{uuid.uuid4().hex}"
        host.mkdir(remote)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            src.mkdir()
            names = [f"unit-{i}-output.json" for i in range(opts.files)]
            for i, name in enumerate(names):
                (src / name).write_text(json.dumps({"unit": i, "status": "done"}))
            size = sum((src / n).stat().st_size for n in names)
            print(f"{opts.files} files, {size / 1024:.0f} KiB in all; sshd on loopback")
            rows = {
                "one command (true)": _timed(lambda: host.run(["true"]), 20),
                "put_many (one tar stream)": _timed(
                    lambda: host.put_many(str(src), f"{remote}/tar", names),
                    opts.rounds,
                ),
                "put one by one (SFTP)": _timed(
                    lambda: [
                        host.put(str(src / n), f"{remote}/tar/{n}") for n in names
                    ],
                    opts.rounds,
                ),
                "get_many (one tar stream)": _timed(
                    lambda: host.get_many(f"{remote}/tar", f"{tmp}/back", names),
                    opts.rounds,
                ),
                "get one by one (SFTP)": _timed(
                    lambda: [
                        host.get(f"{remote}/tar/{n}", f"{tmp}/back/{n}") for n in names
                    ],
                    opts.rounds,
                ),
            }
        for what, seconds in rows.items():
            print(f"{what:28s} {seconds:8.3f} s")
        put_x = rows["put one by one (SFTP)"] / rows["put_many (one tar stream)"]
        get_x = rows["get one by one (SFTP)"] / rows["get_many (one tar stream)"]
        print(f"tar speed-up: put x{put_x:.1f}, get x{get_x:.1f}")
        host.remove_tree(remote, base="/tmp/fractal_core_bench_ssh")
        host.close()
    finally:
        _sshd.stop(server)


if __name__ == "__main__":
    main()
