"""SudoHost: the Host contract as another user, plus what is specific to sudo.

The contract cases run here, with this module's fixtures (the test user, a
folder it owns); the contract's scanner skips its own ancestors, so its `sudo`
parent is not mistaken for a leftover process.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.hosts import CommandTimeoutError
from fractal_core.hosts import Host
from fractal_core.hosts import HostError
from fractal_core.hosts import SudoHost
from fractal_core.hosts import UnsafePathError
from fractal_core.hosts.local import wait_exited
from fractal_core.hosts.sudo import session_members
from fractal_core.hosts.sudo import validate_user_name

from .contract import HOST_CASES
from .contract import HostUnderTest

USER = "fractal_user"
WORKDIRS = Path(tempfile.gettempdir()) / "fractal_core_sudo_host"
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def _sudo_available() -> str | None:
    """Why the sudo tests cannot run here, or None."""
    if shutil.which("sudo") is None:
        return "sudo is not installed"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        if os.geteuid() != 0:
            return f"test user {USER!r} missing and not root"
        from tests.slurm.cluster import ensure_user

        ensure_user(USER)
    probe = subprocess.run(["sudo", "-n", "-u", USER, "true"], capture_output=True)
    if probe.returncode != 0:
        return f"cannot sudo to {USER!r}: {probe.stderr.decode().strip()}"
    return None


@pytest.fixture(scope="module")
def sudo_ready() -> None:
    reason = _sudo_available()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def user_dir(sudo_ready: None) -> Iterator[str]:
    """A fresh folder owned by the test user."""
    account = pwd.getpwnam(USER)
    WORKDIRS.mkdir(exist_ok=True)
    WORKDIRS.chmod(0o755)
    path = tempfile.mkdtemp(prefix="t-", dir=WORKDIRS)
    os.chown(path, account.pw_uid, account.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def host(sudo_ready: None) -> SudoHost:
    return SudoHost(USER, kill_grace=0.5)


@pytest.mark.parametrize("case", HOST_CASES, ids=[c.__name__ for c in HOST_CASES])
def test_sudo_host_contract(
    case: Callable[[HostUnderTest], None],
    host: SudoHost,
    user_dir: str,
) -> None:
    """The contract unchanged (its scanner skips its own `sudo` parent)."""
    case(HostUnderTest(host, SYSTEM_PYTHON, user_dir))


def test_is_a_host(host: SudoHost) -> None:
    assert isinstance(host, Host)


def test_runs_as_the_user_with_env_and_cwd(host: SudoHost, user_dir: str) -> None:
    account = pwd.getpwnam(USER)
    h = SudoHost(USER, env={"A": "host", "B": "b"})
    code = (
        "import os; print(os.getuid(), os.getcwd(), os.environ['A'], os.environ['B'])"
    )
    res = h.run([SYSTEM_PYTHON, "-c", code], env={"A": "call"}, cwd=user_dir)
    assert res.stdout.split() == [str(account.pw_uid), user_dir, "call", "b"]
    assert res.argv == (SYSTEM_PYTHON, "-c", code)


def test_caller_environment_does_not_leak(
    host: SudoHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRACTAL_SUDO_LEAK_CHECK", "x")
    assert "FRACTAL_SUDO_LEAK_CHECK" not in host.run(["env"]).stdout


def test_missing_cwd_and_bad_env_names(host: SudoHost, user_dir: str) -> None:
    with pytest.raises(HostError, match="Cannot run"):
        host.run(["true"], cwd=f"{user_dir}/missing")
    for bad in ("A=B", "", "1X", "A B"):
        with pytest.raises(HostError, match="environment variable"):
            host.run(["true"], env={bad: "v"})
    with pytest.raises(HostError, match="program name"):
        host.run(["X=1", "true"])
    assert host.run(["false"]).returncode == 1  # a plain failure is not an error


@given(st.text(max_size=40))
def test_user_names_validated(name: str) -> None:
    ok = (
        0 < len(name) <= 32
        and name[0] != "-"
        and all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    )
    if ok:
        assert validate_user_name(name) == name
    else:
        with pytest.raises(HostError, match="Invalid user name"):
            SudoHost(name)


def test_unknown_user_is_a_host_error(sudo_ready: None) -> None:
    with pytest.raises(HostError, match="Cannot run"):
        SudoHost("no_such_user_fc").run(["true"])


def test_files_are_owned_by_the_user(host: SudoHost, user_dir: str) -> None:
    account = pwd.getpwnam(USER)
    path = f"{user_dir}/sub/dir"
    host.mkdir(path)
    host.mkdir(path)  # exist_ok
    with pytest.raises(HostError, match="exists"):
        host.mkdir(path, exist_ok=False)
    with pytest.raises(HostError):
        host.mkdir(f"{user_dir}/a/b", parents=False)
    text = "héllo\nworld\n" * 1000
    host.write_text(f"{path}/f.txt", text)
    host.write_text(f"{path}/f.txt", "short")  # replaces, truncates
    assert host.read_text(f"{path}/f.txt") == "short"
    assert os.stat(f"{path}/f.txt").st_uid == account.pw_uid
    assert os.stat(path).st_uid == account.pw_uid
    assert host.is_dir(path) and not host.is_file(path)
    assert host.is_file(f"{path}/f.txt") and host.exists(f"{path}/f.txt")
    assert not host.exists(f"{path}/nope")
    with pytest.raises(HostError, match="Cannot read"):
        host.read_text(f"{path}/nope")


def test_user_cannot_touch_what_it_may_not(host: SudoHost, tmp_path: Path) -> None:
    """Root's private folder stays private: the user's permissions apply."""
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    os.chmod(tmp_path, 0o700)
    with pytest.raises(HostError, match="Cannot read"):
        host.read_text(str(secret))
    with pytest.raises(HostError, match="Cannot write"):
        host.write_text(str(tmp_path / "new.txt"), "x")
    assert not (tmp_path / "new.txt").exists()


def test_put_and_get_bytes(host: SudoHost, user_dir: str, tmp_path: Path) -> None:
    data = os.urandom(300_000) + b"\0\n\xff"
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(data)
    host.put(str(src), f"{user_dir}/copy.bin")
    assert os.stat(f"{user_dir}/copy.bin").st_uid == pwd.getpwnam(USER).pw_uid
    host.get(f"{user_dir}/copy.bin", str(back))
    assert back.read_bytes() == data
    with pytest.raises(HostError, match="Cannot read"):
        host.put(str(tmp_path / "missing"), f"{user_dir}/x")
    with pytest.raises(HostError, match="Cannot read"):
        host.get(f"{user_dir}/missing", str(tmp_path / "x"))


def test_remove_tree_symlinks_and_default_base(host: SudoHost, user_dir: str) -> None:
    base = f"{user_dir}/base"
    host.mkdir(f"{base}/real/x")
    host.run(["ln", "-s", f"{base}/real", f"{base}/link"]).check()
    host.run(["ln", "-s", "/etc", f"{base}/out"]).check()
    with pytest.raises(UnsafePathError, match="symlink"):
        host.remove_tree(f"{base}/link", base=base)
    with pytest.raises(UnsafePathError, match="not strictly inside"):
        host.remove_tree(f"{base}/out", base=base)
    with pytest.raises(UnsafePathError, match="no base"):
        host.remove_tree(f"{base}/real")
    with pytest.raises(HostError, match="No such file"):
        host.remove_tree(f"{base}/gone", base=base)
    SudoHost(USER, base=base).remove_tree(f"{base}/real")
    assert not host.exists(f"{base}/real")
    assert not host.exists(f"{base}/link")  # now dangling: exists() follows it


def test_sigkill_of_sudo_alone_is_not_enough(host: SudoHost) -> None:
    """Why `run` sweeps the session: sudo does not relay SIGKILL to the command."""
    marker = f"fractal-sudo-{uuid.uuid4().hex}"
    code = "import sys, time; print('ready', flush=True); time.sleep(600)"
    proc = subprocess.Popen(
        ["sudo", "-n", "-u", USER, SYSTEM_PYTHON, "-c", code, marker],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        os.kill(proc.pid, signal.SIGKILL)  # sudo only, not its group
        assert wait_exited(proc.pid, 30)
        survivors = [p for p in session_members(proc.pid) if p != proc.pid]
        assert survivors, "the user's command died with sudo"
        host._kill_session(proc.pid)
        assert session_members(proc.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        host._kill_session(proc.pid)
        proc.wait()


def test_timeout_reports_output(host: SudoHost) -> None:
    start = time.monotonic()
    with pytest.raises(CommandTimeoutError) as info:
        host.run(
            [
                SYSTEM_PYTHON,
                "-c",
                "print('x', flush=True); import time; time.sleep(60)",
            ],
            timeout=1,
        )
    assert info.value.stdout == "x\n"
    assert time.monotonic() - start < 30  # hang guard
