"""A real single-node SLURM cluster for the tests, started from nothing.

The configuration follows /work/shared/reference/local-slurm.md (verified on a
Debian 12 machine without systemd or cgroups): munged and the two SLURM daemons
run as plain background processes with all their state in one folder; clients
find the cluster through ``SLURM_CONF`` (`SlurmCluster.env`).

Several pytest sessions may use the same state folder at once: each takes a
*lease* (a file named after its pid); `release` stops the daemons only when no
live lease remains. A second `start` on a running cluster reuses it.

Command line, for humans::

    python -m tests.slurm.cluster start|stop|status [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(
    os.environ.get("FRACTAL_CORE_SLURM_STATE", "/tmp/fractal_core_slurm")
)
"""Where the cluster keeps everything (override with $FRACTAL_CORE_SLURM_STATE)."""

TEST_USER = "fractal_user"
PARTITION = "main"
CLUSTER_NAME = "fclocal"
START_TIMEOUT = 60.0
"""Hang guard: seconds to wait for a daemon's pid file or for the node to be idle."""

_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
# Daemons in stop order, with the name their /proc/<pid>/comm must start with.
_DAEMONS = (("slurmd", "slurmd"), ("slurmctld", "slurmctld"), ("munged", "munged"))
_APT_PACKAGES = ("slurm-wlm", "munge", "sudo")


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be brought up here (not root, packages missing, ...)."""


class ClusterStartError(RuntimeError):
    """The cluster could have run here but did not start: a real failure."""


@dataclass
class SlurmCluster:
    """A running single-node cluster: where its state is and how to reach it."""

    state_dir: Path
    slurm_conf: Path
    env: dict[str, str]
    user: str = TEST_USER
    partition: str = PARTITION
    started_here: bool = field(default=False, compare=False)

    @property
    def jobcomp_file(self) -> Path:
        """One line per finished job (``JobId=.. ... JobState=..``)."""
        return self.state_dir / "log" / "jobcomp.txt"

    def run(self, argv: list[str], *, timeout: float = 60.0) -> str:
        """Run a SLURM client command as the current user; return its stdout."""
        res = subprocess.run(
            argv,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if res.returncode != 0:
            raise RuntimeError(
                f"{argv!r} failed with exit code {res.returncode}: {res.stderr.strip()}"
            )
        return res.stdout

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o`` as a dict (JobState, ExitCode, UserId, ...)."""
        line = self.run(["scontrol", "show", "job", "-o", job_id]).strip()
        return _parse_pairs(line)

    def jobcomp_state(self, job_id: str) -> str | None:
        """The final state of `job_id` in the jobcomp file, or None if not there."""
        if not self.jobcomp_file.exists():
            return None
        for line in self.jobcomp_file.read_text().splitlines():
            pairs = _parse_pairs(line)
            if pairs.get("JobId") == job_id:
                return pairs.get("JobState")
        return None

    def wait_finished(self, job_id: str, timeout: float = 60.0) -> dict[str, str]:
        """Wait (hang guard `timeout`) until the job left the queue; its info."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job_info(job_id)
            if info.get("JobState") not in ("PENDING", "RUNNING", "COMPLETING"):
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info.get('JobState')}")
            time.sleep(0.2)


def _parse_pairs(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for token in line.split():
        key, sep, value = token.partition("=")
        if sep:
            out.setdefault(key, value)
    return out


# ---------------------------------------------------------------- prerequisites


def ensure_installed() -> None:
    """Install slurm-wlm, munge and sudo with apt-get when missing (root only)."""
    missing = [
        exe
        for exe in ("sbatch", "slurmctld", "slurmd", "munged", "sudo")
        if shutil.which(exe) is None
        and not Path("/usr/sbin", exe).exists()
        and not Path("/usr/bin", exe).exists()
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable(
            f"SLURM tests need root to install {missing} (missing) and run daemons."
        )
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable(f"{missing} missing and apt-get not available.")
    logger.info("installing %s with apt-get", _APT_PACKAGES)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *_APT_PACKAGES],
    ):
        res = subprocess.run(argv, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise ClusterUnavailable(f"{argv!r} failed: {res.stderr.strip()[-2000:]}")


def ensure_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """Create the non-root test user (unlocked, with a home) if missing."""
    if not _USER_NAME.match(name):
        raise ValueError(f"Invalid user name {name!r}.")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise ClusterUnavailable(f"user {name!r} is missing and we are not root.")
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)
    # A fresh account without a password is locked (sshd refuses it).
    subprocess.run(["usermod", "-p", "*", name], check=True)
    return pwd.getpwnam(name)


# ---------------------------------------------------------------- daemons


def _pid_alive(pid_file: Path, comm_prefix: str) -> int | None:
    """The pid in `pid_file` if that process runs and is the expected daemon."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    if not comm.startswith(comm_prefix[:15]) or state == "Z":
        return None  # stale pid file: the pid now belongs to something else
    return pid


def _pid_files(state_dir: Path) -> dict[str, Path]:
    run = state_dir / "run"
    return {
        "slurmd": run / "slurmd.pid",
        "slurmctld": run / "slurmctld.pid",
        "munged": state_dir / "munge" / "munged.pid",
    }


def running_daemons(state_dir: Path = DEFAULT_STATE_DIR) -> dict[str, int]:
    """The daemons of this state folder that are running, by name."""
    files = _pid_files(state_dir)
    out: dict[str, int] = {}
    for name, comm in _DAEMONS:
        pid = _pid_alive(files[name], comm)
        if pid is not None:
            out[name] = pid
    return out


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _real_memory_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return max(512, int(line.split()[1]) // 1024 - 2048)
    raise ClusterStartError("cannot read MemTotal from /proc/meminfo")


def _slurm_conf_text(state: Path, ctld_port: int, slurmd_port: int) -> str:
    host = socket.gethostname().split(".")[0]
    cpus = len(os.sched_getaffinity(0))
    lines = [
        f"ClusterName={CLUSTER_NAME}",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        f"AuthInfo=socket={state}/munge/munge.socket",
        "CryptoType=crypto/munge",
        f"StateSaveLocation={state}/spool/ctld",
        f"SlurmdSpoolDir={state}/spool/d",
        f"SlurmctldPidFile={state}/run/slurmctld.pid",
        f"SlurmdPidFile={state}/run/slurmd.pid",
        f"SlurmctldLogFile={state}/log/slurmctld.log",
        f"SlurmdLogFile={state}/log/slurmd.log",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/linux",
        "JobAcctGatherFrequency=1",
        "JobAcctGatherParams=OverMemoryKill",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={state}/log/jobcomp.txt",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "ReturnToService=2",
        "MinJobAge=300",
        "KillWait=5",
        "OverTimeLimit=0",
        "MpiDefault=none",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} "
        f"RealMemory={_real_memory_mib()} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def _wait_for(predicate: object, what: str, timeout: float = START_TIMEOUT) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ClusterStartError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _run_checked(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    res = subprocess.run(
        argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if res.returncode != 0:
        raise ClusterStartError(
            f"{what} failed ({argv!r}, exit {res.returncode}): "
            f"{(res.stderr or res.stdout).strip()[-2000:]}"
        )


def _start_munge(state: Path) -> None:
    mdir = state / "munge"
    mdir.mkdir(parents=True, exist_ok=True)
    munge = pwd.getpwnam("munge")
    key = mdir / "munge.key"
    if not key.exists():
        key.write_bytes(secrets.token_bytes(1024))
    os.chown(mdir, munge.pw_uid, munge.pw_gid)
    os.chmod(mdir, 0o755)  # 700 would lock every other user out of the socket
    os.chown(key, munge.pw_uid, munge.pw_gid)
    os.chmod(key, 0o400)
    _run_checked(
        [
            "runuser",
            "-u",
            "munge",
            "--",
            "/usr/sbin/munged",
            "--force",
            f"--key-file={key}",
            f"--socket={mdir}/munge.socket",
            f"--pid-file={mdir}/munged.pid",
            f"--log-file={mdir}/munged.log",
            f"--seed-file={mdir}/munged.seed",
        ],
        "starting munged",
    )
    _wait_for(
        lambda: _pid_alive(mdir / "munged.pid", "munged") is not None, "munged pid"
    )


def _node_state(env: dict[str, str]) -> str:
    res = subprocess.run(
        ["sinfo", "-h", "-o", "%T"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    return res.stdout.strip() if res.returncode == 0 else ""


def _start_fresh(state: Path) -> None:
    """Start munged, slurmctld and slurmd (none of them is running)."""
    for sub in ("spool/ctld", "spool/d", "run", "log"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    for pid_file in _pid_files(state).values():
        pid_file.unlink(missing_ok=True)  # stale: checked dead by the caller
    ctld_port, slurmd_port = _free_ports(2)
    conf = state / "slurm.conf"
    conf.write_text(_slurm_conf_text(state, ctld_port, slurmd_port))
    conf.chmod(0o644)
    _start_munge(state)
    files = _pid_files(state)
    daemon_env = {**os.environ, "SLURM_CONF": str(conf)}
    _run_checked(["/usr/sbin/slurmctld", "-f", str(conf)], "slurmctld", daemon_env)
    _wait_for(
        lambda: _pid_alive(files["slurmctld"], "slurmctld") is not None,
        "slurmctld pid",
    )
    _run_checked(["/usr/sbin/slurmd", "-f", str(conf)], "slurmd", daemon_env)
    _wait_for(lambda: _pid_alive(files["slurmd"], "slurmd") is not None, "slurmd pid")


@contextlib.contextmanager
def _locked(state: Path) -> Iterator[None]:
    state.mkdir(parents=True, exist_ok=True)
    with open(state / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start(
    state_dir: Path = DEFAULT_STATE_DIR,
    *,
    user: str = TEST_USER,
    lease: bool | str = False,
) -> SlurmCluster:
    """Bring the cluster up (or reuse the running one) and wait until it is idle.

    With `lease=True`, record this process as a user of the cluster (see
    `release`); a string lease (the command line uses "cli") keeps the cluster
    up until `stop`. Raises `ClusterUnavailable` when it cannot be done here (the
    fixtures then skip), `ClusterStartError` when starting failed (tests fail).
    """
    state = Path(state_dir).resolve()
    if os.geteuid() != 0:
        raise ClusterUnavailable("the test cluster runs its daemons as root")
    ensure_installed()
    ensure_user(user)
    conf = state / "slurm.conf"
    env = {"SLURM_CONF": str(conf)}
    with _locked(state):
        state.chmod(0o755)
        running = running_daemons(state)
        started = False
        if len(running) != len(_DAEMONS):
            if running:
                logger.info("partial cluster %s: restarting it", running)
                _stop_daemons(state)
            logger.info("starting SLURM cluster in %s", state)
            _start_fresh(state)
            started = True
            # Right after start sinfo may print "idle*" (node not responding yet).
            _wait_for(lambda: _node_state(env) == "idle", "node state 'idle'")
        else:
            _wait_for(
                lambda: (
                    _node_state(env) in ("idle", "mixed", "allocated", "completing")
                ),
                "a responding node",
            )
        if lease:
            leases = state / "leases"
            leases.mkdir(exist_ok=True)
            name = lease if isinstance(lease, str) else str(os.getpid())
            (leases / name).touch()
    return SlurmCluster(
        state_dir=state,
        slurm_conf=conf,
        env=env,
        user=user,
        partition=PARTITION,
        started_here=started,
    )


def _live_leases(state: Path) -> list[int]:
    leases = state / "leases"
    alive = []
    for entry in leases.glob("*") if leases.is_dir() else []:
        if not entry.name.isdigit():
            alive.append(-1)  # a named lease (the command line's): kept until stop
            continue
        try:
            pid = int(entry.name)
            os.kill(pid, 0)
        except ProcessLookupError:
            entry.unlink(missing_ok=True)
            continue
        except PermissionError:
            pass
        alive.append(pid)
    return alive


def release(cluster: SlurmCluster) -> bool:
    """Drop this process's lease; stop the cluster if no other lease is live.

    Returns True when the cluster was stopped.
    """
    with _locked(cluster.state_dir):
        (cluster.state_dir / "leases" / str(os.getpid())).unlink(missing_ok=True)
        if _live_leases(cluster.state_dir):
            return False
        _stop_daemons(cluster.state_dir)
        return True


def stop(state_dir: Path = DEFAULT_STATE_DIR) -> None:
    """Stop the cluster of `state_dir` (whatever the leases say)."""
    state = Path(state_dir).resolve()
    if not state.exists():
        return
    with _locked(state):
        _stop_daemons(state)
        shutil.rmtree(state / "leases", ignore_errors=True)


def _cancel_all_jobs(state: Path) -> None:
    """Cancel every job and wait (bounded) for the queue to drain."""
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    res = subprocess.run(
        ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True
    )
    ids = res.stdout.split() if res.returncode == 0 else []
    if not ids:
        return
    subprocess.run(["scancel", *ids], env=env, capture_output=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        res = subprocess.run(
            ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True
        )
        if res.returncode != 0 or not res.stdout.split():
            return
        time.sleep(0.2)


def _stepd_pids(state: Path) -> list[int]:
    """slurmstepd processes whose slurmd ran from this state folder."""
    marker = f"SLURM_CONF={state}/slurm.conf".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if not Path(f"/proc/{name}/comm").read_text().startswith("slurmstepd"):
                continue
            environ = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            found.append(int(name))
    return found


def _stop_daemons(state: Path) -> None:
    files = _pid_files(state)
    if running_daemons(state).keys() >= {"slurmctld", "slurmd", "munged"}:
        _cancel_all_jobs(state)
    for name, comm in _DAEMONS:
        pid = _pid_alive(files[name], comm)
        if pid is None:
            continue
        logger.info("stopping %s (pid %d)", name, pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(files[name], comm) == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(files[name], comm) == pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid in _stepd_pids(state):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid_file in files.values():
        pid_file.unlink(missing_ok=True)


def status(state_dir: Path = DEFAULT_STATE_DIR) -> str:
    """One line per daemon and the node state, for humans."""
    state = Path(state_dir).resolve()
    running = running_daemons(state)
    lines = [
        f"{name}: {'running, pid ' + str(running[name]) if name in running else 'down'}"
        for name, _ in _DAEMONS
    ]
    if len(running) == len(_DAEMONS):
        lines.append(f"node: {_node_state({'SLURM_CONF': str(state / 'slurm.conf')})}")
        lines.append(f"export SLURM_CONF={state / 'slurm.conf'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.slurm.cluster start|stop|status``."""
    parser = argparse.ArgumentParser(prog="python -m tests.slurm.cluster")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.action == "start":
            start(args.state_dir, lease="cli")
        elif args.action == "stop":
            stop(args.state_dir)
    except (ClusterUnavailable, ClusterStartError) as e:
        logger.error("%s", e)
        return 1
    logger.info("%s", status(args.state_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
