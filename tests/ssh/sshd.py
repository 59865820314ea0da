"""A private OpenSSH server on loopback for the test suite.

`start()` brings one up from nothing: installs `openssh-server` with apt-get when
`/usr/sbin/sshd` is missing (root only), creates the non-root test user, makes a
client key pair and a host key (once, shared by all sessions), and runs sshd on a
free loopback port with every setting on its command line and all of its state
in a folder of its own. `stop()` ends it together with its per-connection
processes. Every step tolerates what an earlier or parallel run left behind.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
TEST_USER = "fractal_user"
ROOT = Path(tempfile.gettempdir()) / "fractal_core_sshd"
KEYS = ROOT / "keys"
START_TIMEOUT = 30.0
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class SSHDUnavailable(RuntimeError):
    """The test sshd cannot run on this machine (the reason says why)."""


@dataclass(frozen=True)
class SSHEndpoint:
    """Where and as whom to log in."""

    host: str
    port: int
    user: str
    key_path: str


@dataclass
class SSHServer:
    """A running test sshd: its endpoint, state folder and main pid."""

    endpoint: SSHEndpoint
    state_dir: Path
    pid: int

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "sshd.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "sshd.log"


def ensure_sshd_binary() -> None:
    """Install openssh-server with apt-get when sshd is missing (root only)."""
    if os.path.exists(SSHD):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SSHDUnavailable(f"{SSHD} is missing and cannot be installed here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "openssh-server"],
    ):
        res = subprocess.run(argv, capture_output=True, text=True, env=env)
        if res.returncode != 0 and not os.path.exists(SSHD):
            raise SSHDUnavailable(f"{argv} failed: {res.stderr.strip()[-500:]}")
    if not os.path.exists(SSHD):
        raise SSHDUnavailable(f"{SSHD} still missing after apt-get install")


def ensure_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """The test user, created (with a home, unlocked) if missing; race tolerant."""
    if not _USER_NAME.match(name):
        raise ValueError(f"Invalid user name {name!r}.")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise SSHDUnavailable(f"user {name!r} is missing and we are not root")
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], capture_output=True)
    try:
        account = pwd.getpwnam(name)  # created by us or by a parallel session
    except KeyError as e:
        raise SSHDUnavailable(f"could not create user {name!r}") from e
    # A fresh account without a password is locked, and sshd refuses it.
    subprocess.run(["usermod", "-p", "*", name], check=True, capture_output=True)
    return account


def _keygen(path: Path) -> None:
    """An ed25519 key pair at `path` (+ .pub), made atomically if missing."""
    if path.exists() and path.with_suffix(".pub").exists():
        return
    tmp = Path(tempfile.mkdtemp(dir=path.parent))
    try:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "k")],
            check=True,
            capture_output=True,
        )
        os.replace(tmp / "k.pub", path.with_suffix(".pub"))
        os.replace(tmp / "k", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_keys() -> tuple[Path, Path]:
    """(host key, client key), shared by all sessions; authorized_keys beside."""
    KEYS.mkdir(parents=True, exist_ok=True)
    for folder in (ROOT, KEYS):
        folder.chmod(0o755)  # sshd's StrictModes: root-owned, not group-writable
    host_key, client_key = KEYS / "host_ed25519", KEYS / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    authorized = KEYS / "authorized_keys"
    if not authorized.exists():
        tmp = KEYS / f".authorized.{os.getpid()}"
        tmp.write_text(client_key.with_suffix(".pub").read_text())
        tmp.chmod(0o644)
        os.replace(tmp, authorized)
    return host_key, client_key


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepts(port: int) -> bool:
    """True when something on loopback `port` answers with an SSH banner."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _launch(state: Path, port: int, host_key: Path) -> int:
    """Run sshd (it daemonises) and return its pid once it accepts connections."""
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation
    pid_file = state / "sshd.pid"
    pid_file.unlink(missing_ok=True)
    argv = [
        SSHD,
        "-p", str(port),
        "-h", str(host_key),
        "-E", str(state / "sshd.log"),
        "-o", "ListenAddress=127.0.0.1",
        "-o", f"PidFile={pid_file}",
        "-o", f"AuthorizedKeysFile={KEYS / 'authorized_keys'}",
        "-o", "PasswordAuthentication=no",
        "-o", "KbdInteractiveAuthentication=no",
        "-o", "UsePAM=no",
        "-o", "StrictModes=no",  # the keys live below the world-writable /tmp
        "-o", "MaxStartups=100",
        "-o", "MaxSessions=100",
        "-o", "LogLevel=VERBOSE",
    ]  # fmt: skip
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode != 0:
        raise SSHDUnavailable(f"sshd did not start: {res.stderr.strip()}")
    deadline = time.monotonic() + START_TIMEOUT
    while not (pid_file.exists() and accepts(port)):
        if time.monotonic() > deadline:
            raise SSHDUnavailable(f"sshd on port {port} never accepted connections")
        time.sleep(0.05)
    return int(pid_file.read_text().split()[0])


def start(state_dir: Path | None = None, port: int | None = None) -> SSHServer:
    """Bring up a private sshd (installing and creating what is missing)."""
    ensure_sshd_binary()
    ensure_user()
    host_key, client_key = ensure_keys()
    if state_dir is None:
        state_dir = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT))
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o755)
    port = port or free_port()
    pid = _launch(state_dir, port, host_key)
    endpoint = SSHEndpoint("127.0.0.1", port, TEST_USER, str(client_key))
    return SSHServer(endpoint, state_dir, pid)


def children(pid: int) -> list[int]:
    """Pids of every descendant of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_connections(server: SSHServer) -> list[int]:
    """SIGKILL the per-connection sshd processes (commands they run survive)."""
    victims = [p for p in children(server.pid) if _comm(p).startswith("sshd")]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return victims


def _wait_gone(pid: int, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and _comm(pid) != "":
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd pid {pid} did not stop")
        time.sleep(0.02)


def stop(server: SSHServer, *, keep_state: bool = False) -> None:
    """Stop the main sshd and every connection it serves; remove its state folder."""
    kill_connections(server)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGKILL)
        _wait_gone(server.pid)
    if not keep_state:
        shutil.rmtree(server.state_dir, ignore_errors=True)


def restart(server: SSHServer) -> None:
    """Start sshd again on the same port and state folder (after `stop`)."""
    host_key, _ = ensure_keys()
    server.state_dir.mkdir(parents=True, exist_ok=True)
    server.pid = _launch(server.state_dir, server.endpoint.port, host_key)
