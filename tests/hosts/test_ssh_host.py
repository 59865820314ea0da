"""SSHHost against a real sshd on loopback: what goes beyond the Host contract.

The contract cases themselves run in test_contract.py (the `ssh` factory). Here:
quoting (injection), env/cwd, launch and connection errors naming host and step,
connection sharing, bulk tar transfers, and transport faults (connections killed
mid-command and mid-transfer, sshd stopped and restarted). The sshd is on this
machine, so tests may look at the "remote" files directly to check outcomes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pwd
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.hosts import Host
from fractal_core.hosts import HostError
from fractal_core.hosts import LocalHost
from fractal_core.hosts import SSHHost
from fractal_core.hosts import UnsafePathError
from fractal_core.hosts._tar_transfer import transfer_from_host
from fractal_core.hosts._tar_transfer import transfer_to_host
from fractal_core.hosts.ssh import SSHAuthenticationError
from fractal_core.hosts.ssh import SSHConnectionError
from fractal_core.hosts.ssh import SSHHostKeyError
from fractal_core.hosts.ssh import SSHTransportError
from tests.ssh import sshd as _sshd
from tests.ssh.fixtures import host_for
from tests.ssh.fixtures import scratch_dir

PY = "/usr/bin/python3"
ECHO_ARGS = "import json, sys; print(json.dumps(sys.argv[1:]))"
NASTY = [
    "a;touch {w}/pwned",
    "$(touch {w}/pwned)",
    "`touch {w}/pwned`",
    "x\ntouch {w}/pwned",
    "two words",
    "'quoted' \"double\"",
    "|| touch {w}/pwned &",
    "> {w}/pwned",
    "*",
    "~",
    "$HOME",
    "",
]


@pytest.fixture
def host(sshd: _sshd.SSHServer) -> SSHHost:
    return host_for(sshd.endpoint)


@pytest.fixture
def work(host: SSHHost) -> str:
    return scratch_dir(host)


def test_is_a_host(host: SSHHost) -> None:
    assert isinstance(host, Host)


# ---------------------------------------------------------------- quoting


def test_arguments_reach_the_remote_side_literally(host: SSHHost, work: str) -> None:
    args = [a.format(w=work) for a in NASTY]
    res = host.run([PY, "-c", ECHO_ARGS, *args]).check()
    assert json.loads(res.stdout) == args
    assert not os.path.exists(f"{work}/pwned")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(
                blacklist_categories=["Cs"], blacklist_characters="\0"
            ),
            max_size=30,
        ),
        max_size=4,
    )
)
def test_any_argument_is_passed_unchanged(host: SSHHost, args: list[str]) -> None:
    res = host.run([PY, "-c", ECHO_ARGS, *args]).check()
    assert json.loads(res.stdout) == args


def test_paths_env_and_cwd_with_metacharacters_are_literal(
    host: SSHHost, work: str
) -> None:
    for raw in NASTY[:5]:
        name = raw.format(w=work).replace("/", "_")
        folder = f"{work}/{name}"
        host.mkdir(folder)
        host.write_text(f"{folder}/f", raw)
        assert Path(folder, "f").read_text() == raw
        res = host.run(
            [PY, "-c", "import os; print(os.getcwd()); print(os.environ['V'])"],
            cwd=folder,
            env={"V": raw.format(w=work)},
        ).check()
        assert res.stdout == f"{folder}\n{raw.format(w=work)}\n"
        assert host.realpath(folder) == folder
        host.remove_tree(folder, base=work)
        assert not os.path.exists(folder)
    assert not os.path.exists(f"{work}/pwned")


@pytest.mark.parametrize(
    "user",
    ["a;b", "$(id)", "`id`", "a b", "a\nb", "-oProxyCommand=x", "", "x" * 33, "a/b"],
)
def test_bad_user_names_are_refused_before_connecting(
    user: str, ssh_endpoint: _sshd.SSHEndpoint
) -> None:
    with pytest.raises(HostError, match="Invalid SSH user name"):
        SSHHost(ssh_endpoint.host, user, port=ssh_endpoint.port, key_path="k")


def test_bad_env_names_and_program_names_are_refused(host: SSHHost) -> None:
    with pytest.raises(HostError, match="Invalid environment variable name"):
        host.run(["true"], env={"A;touch x": "1"})
    with pytest.raises(HostError, match="unusable program name"):
        host.run(["A=1", "true"])


# ---------------------------------------------------------------- commands


def test_env_merges_host_and_call_values(ssh_endpoint: _sshd.SSHEndpoint) -> None:
    h = host_for(ssh_endpoint, env={"A": "host", "B": "b"})
    code = "import os; print(os.environ['A'], os.environ['B'], os.getuid())"
    a, b, uid = h.run([PY, "-c", code], env={"A": "call"}).check().stdout.split()
    assert (a, b) == ("call", "b")
    assert int(uid) == pwd.getpwnam(ssh_endpoint.user).pw_uid


def test_launch_errors_name_the_host(host: SSHHost, work: str) -> None:
    with pytest.raises(HostError, match=r"Cannot run .*fractal_user@127\.0\.0\.1"):
        host.run(["/nonexistent/prog"])
    with pytest.raises(HostError, match="cannot change directory"):
        host.run(["true"], cwd=f"{work}/missing")


def test_stdin_is_closed_and_output_streams(host: SSHHost) -> None:
    lines: list[str] = []
    code = "import sys; print(repr(sys.stdin.read())); print('second')"
    res = host.run([PY, "-c", code], on_output=lines.append, timeout=60).check()
    assert res.stdout == "''\nsecond\n"
    assert lines == ["''", "second"]


def test_hosts_with_one_login_share_one_connection(
    ssh_endpoint: _sshd.SSHEndpoint,
) -> None:
    a, b = host_for(ssh_endpoint), host_for(ssh_endpoint)
    a.run(["true"])
    before = a._shared.connects
    threads = [threading.Thread(target=h.run, args=(["true"],)) for h in (a, b) * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert a._shared is b._shared
    assert a._shared.connects == before


# ---------------------------------------------------------------- errors


def test_refused_key_names_host_and_step(
    ssh_endpoint: _sshd.SSHEndpoint, tmp_path: Path
) -> None:
    key = tmp_path / "other"
    _sshd._keygen(key)
    h = SSHHost(
        ssh_endpoint.host, ssh_endpoint.user, port=ssh_endpoint.port,
        key_path=str(key), retries=0,
    )  # fmt: skip
    with pytest.raises(SSHAuthenticationError, match=r"127\.0\.0\.1.*'authenticate'"):
        h.run(["true"])


def test_unreachable_host_names_host_and_step() -> None:
    port = _sshd.free_port()
    h = SSHHost("127.0.0.1", "fractal_user", port=port, key_path="k", retries=1,
                backoff=0.01)  # fmt: skip
    with pytest.raises(SSHConnectionError, match=rf":{port}: step 'connect' failed"):
        h.exists("/tmp")


def test_known_hosts_pins_the_server_key(sshd: _sshd.SSHServer, tmp_path: Path) -> None:
    e = sshd.endpoint
    pub = (_sshd.KEYS / "host_ed25519.pub").read_text().split()[:2]
    good, bad, empty = tmp_path / "good", tmp_path / "bad", tmp_path / "empty"
    good.write_text(f"[{e.host}]:{e.port} {' '.join(pub)}\n")
    other = tmp_path / "other"
    _sshd._keygen(other)
    wrong = other.with_suffix(".pub").read_text().split()[:2]
    bad.write_text(f"[{e.host}]:{e.port} {' '.join(wrong)}\n")
    empty.write_text("")
    assert host_for(e, known_hosts=str(good)).run(["true"]).ok
    with pytest.raises(SSHHostKeyError, match="'verify host key'.*differs"):
        host_for(e, known_hosts=str(bad)).run(["true"])
    with pytest.raises(SSHHostKeyError, match="'verify host key'.*not in"):
        host_for(e, known_hosts=str(empty)).exists("/")


def test_missing_base_folder_names_host_and_step(
    ssh_endpoint: _sshd.SSHEndpoint, work: str
) -> None:
    host_for(ssh_endpoint, base=work).check()
    missing = f"{work}/nope"
    with pytest.raises(HostError, match=r"'check base folder'.*nope"):
        host_for(ssh_endpoint, base=missing).check()


def test_remove_tree_refuses_symlinks_and_escapes(host: SSHHost, work: str) -> None:
    base = f"{work}/base"
    host.mkdir(f"{base}/inside")
    host.mkdir(f"{work}/outside/keep")
    os.symlink(f"{work}/outside", f"{base}/link")
    with pytest.raises(UnsafePathError, match="Refusing removal"):
        host.remove_tree(f"{base}/link", base=base)
    with pytest.raises(UnsafePathError, match="Refusing removal"):
        host.remove_tree(f"{base}/link/keep", base=base)
    with pytest.raises(UnsafePathError, match="no base folder"):
        host.remove_tree(f"{base}/inside")
    assert host.is_dir(f"{work}/outside/keep")
    host_for(host_endpoint(host), base=base).remove_tree(f"{base}/inside")
    assert not host.exists(f"{base}/inside")


def test_file_errors_are_host_errors(host: SSHHost, work: str) -> None:
    with pytest.raises(HostError, match="cannot read"):
        host.read_text(f"{work}/missing")
    with pytest.raises(HostError, match="cannot create"):
        host.mkdir("/proc/forbidden/x")
    assert not host.exists(f"{work}/missing") and not host.is_file(work)


# ---------------------------------------------------------------- many files


def test_tar_transfer_of_1000_files_equals_one_by_one(
    host: SSHHost, work: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    names = [f"d{i % 7}/unit-{i}.json" for i in range(1000)]
    for i, name in enumerate(names):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(json.dumps({"i": i, "s": "x" * (i % 50)}))
    host.put_many(str(src), f"{work}/tar", names)
    transfer_to_host(LocalHost(), str(src), str(tmp_path / "local"), names)
    for name in names[:20]:
        host.put(str(src / name), f"{work}/one-{name.replace('/', '_')}")
    back = tmp_path / "back"
    host.get_many(f"{work}/tar", str(back), names)
    assert _tree(back) == _tree(src) == _tree(tmp_path / "local")
    assert _tree(Path(f"{work}/tar")) == _tree(src)
    for name in names[:20]:
        assert (
            Path(f"{work}/one-{name.replace('/', '_')}").read_bytes()
            == (src / name).read_bytes()
        )
    again = tmp_path / "again"
    transfer_from_host(host, f"{work}/tar", str(again), names[:10])
    assert _tree(again) == {n: (src / n).read_bytes() for n in names[:10]}


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", ""])
def test_bulk_transfer_names_are_checked(
    host: SSHHost, work: str, tmp_path: Path, bad: str
) -> None:
    with pytest.raises(UnsafePathError, match="Refusing transfer"):
        host.put_many(str(tmp_path), work, [bad])
    with pytest.raises(UnsafePathError, match="Refusing transfer"):
        host.get_many(work, str(tmp_path), [bad])


def test_get_many_reports_missing_files(
    host: SSHHost, work: str, tmp_path: Path
) -> None:
    host.write_text(f"{work}/a", "a")
    with pytest.raises(HostError, match="download of 2 file"):
        host.get_many(work, str(tmp_path), ["a", "missing"])


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def host_endpoint(host: SSHHost) -> _sshd.SSHEndpoint:
    login = host.login
    return _sshd.SSHEndpoint(login.host, login.port, login.user, login.key_path)


# ---------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def own_sshd() -> Iterator[_sshd.SSHServer]:
    """A private sshd for the fault tests (they kill and restart it)."""
    try:
        server = _sshd.start()
    except _sshd.SSHDUnavailable as e:
        pytest.skip(f"no test sshd: {e}")
    yield server
    _sshd.stop(server)


@pytest.fixture
def fhost(own_sshd: _sshd.SSHServer) -> SSHHost:
    return host_for(own_sshd.endpoint)


def _kill_when(server: _sshd.SSHServer, ready: Callable[[], bool]) -> threading.Thread:
    """A thread that kills the per-connection sshd processes once `ready()`."""
    killed: list[int] = []

    def body() -> None:
        deadline = time.monotonic() + 60
        while not ready():
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)
        killed.extend(_sshd.kill_connections(server))

    t = threading.Thread(target=body, daemon=True)
    t.killed = killed  # type: ignore[attr-defined]
    t.start()
    return t


def _lines(path: str) -> int:
    try:
        return len(Path(path).read_text().splitlines())
    except FileNotFoundError:
        return 0


COUNTING = (
    'echo run >> "$1"; echo started; '
    'if [ "$(wc -l < "$1")" -lt 2 ] || [ "$2" = never ]; then sleep 60; fi; echo done'
)


def test_dropped_connection_is_a_transport_error_and_not_rerun(
    own_sshd: _sshd.SSHServer, fhost: SSHHost
) -> None:
    work = scratch_dir(fhost)
    counter = f"{work}/counter"
    marker = f"fractal-fault-{uuid.uuid4().hex}"
    killer = _kill_when(own_sshd, lambda: _lines(counter) >= 1)
    with pytest.raises(SSHTransportError) as info:
        fhost.run(["sh", "-c", COUNTING, marker, counter, "never"], timeout=120)
    killer.join(60)
    assert killer.killed  # type: ignore[attr-defined]
    msg = str(info.value)
    assert "127.0.0.1" in msg and "connection broke" in msg and counter in msg
    # Nothing ran twice, and the cut-off command was stopped after reconnecting.
    deadline = time.monotonic() + 30
    while _marked(marker):
        assert time.monotonic() < deadline, "the cut-off command is still running"
        time.sleep(0.1)
    assert _lines(counter) == 1
    assert fhost.run(["true"]).ok  # the connection came back by itself


def test_idempotent_command_is_retried_after_a_drop(
    own_sshd: _sshd.SSHServer, fhost: SSHHost, caplog: pytest.LogCaptureFixture
) -> None:
    work = scratch_dir(fhost)
    counter = f"{work}/counter"
    killer = _kill_when(own_sshd, lambda: _lines(counter) >= 1)
    with caplog.at_level(logging.WARNING, logger="fractal_core.hosts.ssh"):
        res = fhost.run(["sh", "-c", COUNTING, "x", counter, "once"], idempotent=True)
    killer.join(60)
    assert killer.killed  # type: ignore[attr-defined]
    assert res.ok and res.stdout == "started\ndone\n"
    assert _lines(counter) == 2
    assert "retrying" in caplog.text


# paramiko's own SFTP prefetch thread dies with the connection and says so.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("direction", ["get", "put"])
def test_transfer_cut_off_is_retried(
    own_sshd: _sshd.SSHServer,
    fhost: SSHHost,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    direction: str,
) -> None:
    work = scratch_dir(fhost)
    data = os.urandom(1 << 20) * 48  # 48 MiB: the transfer takes a while
    digest = hashlib.sha256(data).hexdigest()
    local, remote = tmp_path / "big", f"{work}/big"
    if direction == "get":
        Path(remote).write_bytes(data)
        os.chmod(remote, 0o644)
        watched = local
    else:
        local.write_bytes(data)
        watched = Path(remote)
    fhost.exists(work)  # connected before the watcher starts
    killer = _kill_when(own_sshd, lambda: _size(watched) > 0)
    with caplog.at_level(logging.WARNING, logger="fractal_core.hosts.ssh"):
        if direction == "get":
            fhost.get(remote, str(local))
        else:
            fhost.put(str(local), remote)
    killer.join(60)
    assert killer.killed  # type: ignore[attr-defined]
    assert "connection broke" in caplog.text and "retrying" in caplog.text
    for path in (local, Path(remote)):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_read_while_sshd_is_down_fails_then_reconnects(
    own_sshd: _sshd.SSHServer, tmp_path: Path
) -> None:
    h = host_for(own_sshd.endpoint, retries=1, backoff=0.01)
    work = scratch_dir(h)
    h.write_text(f"{work}/f", "content")
    connects = h._shared.connects
    _sshd.stop(own_sshd, keep_state=True)
    try:
        with pytest.raises(SSHConnectionError, match="step 'connect' failed"):
            h.read_text(f"{work}/f")
    finally:
        _sshd.restart(own_sshd)
    assert h.read_text(f"{work}/f") == "content"
    assert h.run(["cat", f"{work}/f"]).stdout == "content"
    assert h._shared.connects == connects + 1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _marked(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                raw = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in raw:
                found.append(int(name))
    return found
