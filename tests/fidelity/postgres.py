"""A private, throw-away PostgreSQL server for one test session.

fractal-server's runner needs a real PostgreSQL database. `private_postgres()`
finds the server binaries (`/usr/lib/postgresql/<major>/bin`, else on PATH),
runs `initdb` into a fresh temporary folder, starts the server with `pg_ctl` on
a free loopback port (unix socket in the same folder, trust authentication,
loopback only), creates a database, yields its connection settings and stops
and deletes everything afterwards.

`initdb` refuses to run as root: when the tests run as root, the server runs as
the `postgres` system user through `runuser -u postgres --` (argument lists
only, never a shell). `PostgresUnavailable` says why a server cannot be had
(tests skip with that reason); `PostgresStartError` is a real failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
START_TIMEOUT = 60  # seconds


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed here (or no user may run it); says why."""


class PostgresStartError(RuntimeError):
    """PostgreSQL is installed but initdb/pg_ctl/createdb failed; has the output."""


@dataclass(frozen=True)
class PostgresSettings:
    """How to connect to the private server (trust authentication, no password)."""

    host: str
    port: int
    user: str
    database: str
    socket_dir: str

    def env(self) -> dict[str, str]:
        """fractal-server's `POSTGRES_*` variables for this database."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_DB": self.database,
        }


def find_bin_dir() -> Path:
    """The folder of `initdb`/`pg_ctl`: newest `/usr/lib/postgresql/*/bin`, or PATH."""
    candidates = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1,
    )
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb "
        "and no initdb on PATH); install them, e.g. `apt-get install -y postgresql`"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """The argv prefix running a command as the server's user (root only)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"Running as root and there is no {SERVER_USER!r} system user to run "
            "PostgreSQL as (initdb refuses root)"
        ) from exc
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("Running as root and `runuser` is not available")
    return [runuser, "-u", SERVER_USER, "--"]


def _run(argv: list[str], timeout: float = START_TIMEOUT) -> None:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise PostgresStartError(
            f"{argv} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )


@contextmanager
def private_postgres(database: str = "fractal_test") -> Iterator[PostgresSettings]:
    """Start a private server with `database` created; stop and delete it after."""
    bin_dir = find_bin_dir()
    prefix = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="fractal-core-pg-"))
    data_dir = base / "data"
    socket_dir = base / "socket"
    socket_dir.mkdir()
    if prefix:
        entry = pwd.getpwnam(SERVER_USER)
        for path in (base, socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    pg_ctl = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data_dir)]
    started = False
    try:
        _run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        options = (
            f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        _run(
            [
                *pg_ctl,
                "-o",
                options,
                "-l",
                str(base / "server.log"),
                "-w",
                "-t",
                str(START_TIMEOUT),
                "start",
            ]
        )
        started = True
        _run(
            [
                *prefix,
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                SERVER_USER,
                database,
            ]
        )
        yield PostgresSettings(
            host="127.0.0.1",
            port=port,
            user=SERVER_USER,
            database=database,
            socket_dir=str(socket_dir),
        )
    finally:
        if started:
            subprocess.run(
                [*pg_ctl, "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=START_TIMEOUT,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)
