"""The test sshd itself: brought up from nothing, idempotent, stopped cleanly."""

from __future__ import annotations

import pwd
import subprocess
from pathlib import Path

from . import sshd as _sshd


def _ssh(endpoint: _sshd.SSHEndpoint, command: str) -> subprocess.CompletedProcess[str]:
    """Log in with the OpenSSH client (not our code) and run `command`."""
    return subprocess.run(
        ["ssh", "-p", str(endpoint.port), "-i", endpoint.key_path,
         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
         f"{endpoint.user}@{endpoint.host}", command],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_session_server_accepts_key_login(sshd: _sshd.SSHServer) -> None:
    res = _ssh(sshd.endpoint, "id -un; echo $HOME")
    assert res.returncode == 0, res.stderr
    account = pwd.getpwnam(_sshd.TEST_USER)
    assert res.stdout.split() == [_sshd.TEST_USER, account.pw_dir]
    assert account.pw_uid != 0


def test_setup_steps_are_idempotent(sshd: _sshd.SSHServer) -> None:
    before = Path(sshd.endpoint.key_path).read_bytes()
    assert _sshd.ensure_user().pw_name == _sshd.TEST_USER
    host_key, client_key = _sshd.ensure_keys()
    assert str(client_key) == sshd.endpoint.key_path
    assert client_key.read_bytes() == before  # not regenerated
    _sshd.ensure_sshd_binary()
    assert _sshd.accepts(sshd.endpoint.port)


def test_a_second_server_runs_beside_and_stops(sshd: _sshd.SSHServer) -> None:
    other = _sshd.start()
    try:
        assert other.endpoint.port != sshd.endpoint.port
        assert _ssh(other.endpoint, "true").returncode == 0
    finally:
        _sshd.stop(other)
    assert not _sshd.accepts(other.endpoint.port)
    assert not Path(f"/proc/{other.pid}/cmdline").exists() or _proc_is_zombie(other.pid)
    assert _sshd.accepts(sshd.endpoint.port)  # the session server is untouched


def test_kill_connections_spares_the_listener(sshd: _sshd.SSHServer) -> None:
    proc = subprocess.Popen(
        ["ssh", "-p", str(sshd.endpoint.port), "-i", sshd.endpoint.key_path,
         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
         f"{sshd.endpoint.user}@{sshd.endpoint.host}", "echo up; sleep 60"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "up\n"
        assert _sshd.kill_connections(sshd)
        assert proc.wait(timeout=60) == 255  # the client saw the connection drop
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _sshd.accepts(sshd.endpoint.port)


def _proc_is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
