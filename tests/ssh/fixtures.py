"""Pytest plugin (registered in tests/conftest.py): a private sshd on loopback.

- `sshd` (session): the running `SSHServer` (`.endpoint` is an `SSHEndpoint`);
  skips, with the reason, when it cannot run here (not root and no sshd, ...).
- `ssh_endpoint`: the session server's endpoint.
- `ssh_host`: an `SSHHost` logged in as the test user (short kill grace).

`session_server()` gives the same server to code that cannot take fixtures (the
host-contract factories); the server is stopped when the session finishes.
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from fractal_core.hosts.ssh import SSHHost
from fractal_core.hosts.ssh import close_all_connections

from . import sshd as _sshd

_STATE: dict[str, _sshd.SSHServer] = {}
_SCRATCH: list[str] = []
SCRATCH = "/tmp/fractal_core_ssh_scratch"


def session_server() -> _sshd.SSHServer:
    """The session's sshd, started on first use (skips when it cannot run)."""
    if "server" not in _STATE:
        try:
            _STATE["server"] = _sshd.start()
        except _sshd.SSHDUnavailable as e:
            pytest.skip(f"no test sshd: {e}")
    return _STATE["server"]


def host_for(endpoint: _sshd.SSHEndpoint, **kwargs: object) -> SSHHost:
    """An `SSHHost` for `endpoint` (quick kill grace and retries for tests)."""
    options: dict[str, object] = {"kill_grace": 0.5, "backoff": 0.2, **kwargs}
    return SSHHost(
        endpoint.host,
        endpoint.user,
        port=endpoint.port,
        key_path=endpoint.key_path,
        **options,  # type: ignore[arg-type]
    )


def scratch_dir(host: SSHHost) -> str:
    """A fresh folder of the test user's on the remote side."""
    path = f"{SCRATCH}/{uuid.uuid4().hex}"
    host.mkdir(path)
    _SCRATCH.append(path)
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the session's sshd (if one was started) and its connections."""
    server = _STATE.pop("server", None)
    if server is not None:
        close_all_connections()
        _sshd.stop(server)
    while _SCRATCH:  # the sshd is on this machine: remove them directly
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


@pytest.fixture(scope="session")
def sshd() -> _sshd.SSHServer:
    """The session's sshd, stopped (with its connections) at the end."""
    return session_server()


@pytest.fixture
def ssh_endpoint(sshd: _sshd.SSHServer) -> _sshd.SSHEndpoint:
    """Host, port, user and key of the session's sshd."""
    return sshd.endpoint


@pytest.fixture
def ssh_host(sshd: _sshd.SSHServer) -> SSHHost:
    """An SSHHost logged in as the test user."""
    return host_for(sshd.endpoint)
