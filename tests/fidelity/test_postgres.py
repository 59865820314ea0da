"""The private PostgreSQL server of the runner fidelity suite (`postgres.py`)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from .postgres import PostgresUnavailable
from .postgres import find_bin_dir
from .postgres import private_postgres


def test_private_postgres_serves_a_database_then_disappears() -> None:
    """The database answers SQL on loopback; afterwards port and folder are gone."""
    try:
        bin_dir = find_bin_dir()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with private_postgres("fidelity_probe") as pg:
        assert pg.host == "127.0.0.1"
        assert pg.env()["POSTGRES_DB"] == "fidelity_probe"
        proc = subprocess.run(
            [
                str(bin_dir / "psql"),
                "-h",
                pg.host,
                "-p",
                str(pg.port),
                "-U",
                pg.user,
                "-d",
                pg.database,
                "-tAc",
                "SELECT current_database()",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert proc.stdout.strip() == "fidelity_probe"
        base = Path(pg.socket_dir).parent
        assert base.is_dir()
    assert not base.exists()
    with pytest.raises(OSError), socket.create_connection((pg.host, pg.port), 2):
        pass
