"""Crash visibility: owner records, folder states, and killing what a dead job left."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.engine.liveness import END_FILENAME
from fractal_core.engine.liveness import OWNER_FILENAME
from fractal_core.engine.liveness import TOKEN_ENV
from fractal_core.engine.liveness import JobFolderState
from fractal_core.engine.liveness import JobOwner
from fractal_core.engine.liveness import JobOwnerRecordError
from fractal_core.engine.liveness import find_token_processes
from fractal_core.engine.liveness import inspect_job_folder
from fractal_core.engine.liveness import kill_token_processes
from fractal_core.engine.liveness import mark_finished
from fractal_core.engine.liveness import read_end
from fractal_core.engine.liveness import read_owner
from fractal_core.engine.liveness import write_owner

HANG_GUARD = 30.0  # seconds


def _gone(pid: int) -> bool:
    """No such process, or only a zombie left (nobody may reap it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


def _wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _wait_found(token: str) -> list[int]:
    """The token's processes, once at least one has exec'd with it."""
    _wait_for(lambda: find_token_processes(token), f"a process with {token}")
    return find_token_processes(token)


# A job "owner": records itself, starts two task-like grandchildren with the
# token (one ignores SIGTERM, one leaves the session with setsid), then sleeps.
OWNER_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from pathlib import Path
    from fractal_core.engine.liveness import TOKEN_ENV, write_owner

    job_dir, token = Path(sys.argv[1]), sys.argv[2]
    write_owner(job_dir, token)
    env = {**os.environ, TOKEN_ENV: token}
    child = (
        "import os, signal, sys, time\\n"
        "if sys.argv[2] == 'setsid': os.setsid()\\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
        "open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
        "time.sleep(600)\\n"
    )
    for kind in ("ignore", "setsid"):
        subprocess.Popen(
            [sys.executable, "-c", child, str(job_dir / f"{kind}.pid"), kind],
            env=env,
        )
    (job_dir / "owner.ready").write_text("ok")
    time.sleep(600)
    """
)

DECOY_SCRIPT = "import time; time.sleep(600)"


@pytest.fixture
def decoy() -> Iterator[subprocess.Popen[bytes]]:
    """A process carrying another job's token: must survive every kill here."""
    env = {**os.environ, TOKEN_ENV: f"decoy-{uuid.uuid4().hex}"}
    proc = subprocess.Popen([sys.executable, "-c", DECOY_SCRIPT], env=env)
    proc.token = env[TOKEN_ENV]  # type: ignore[attr-defined]
    yield proc
    proc.kill()
    proc.wait(timeout=HANG_GUARD)


def _start_owner(job_dir: Path, token: str) -> tuple[subprocess.Popen[bytes], int, int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(job_dir), token],
        start_new_session=True,
    )
    pid_files = [job_dir / "ignore.pid", job_dir / "setsid.pid"]
    _wait_for(
        lambda: (
            (job_dir / "owner.ready").exists()
            and all(f.exists() and f.read_text() for f in pid_files)
        ),
        "the owner and its grandchildren",
    )
    ignore_pid, setsid_pid = (int(f.read_text()) for f in pid_files)
    return owner, ignore_pid, setsid_pid


def test_killed_owner_leaves_an_orphan_whose_processes_get_killed(
    tmp_path: Path, decoy: subprocess.Popen[bytes]
) -> None:
    token = uuid.uuid4().hex  # unique: parallel test runs must not meet
    owner, ignore_pid, setsid_pid = _start_owner(tmp_path, token)
    try:
        assert inspect_job_folder(tmp_path) is JobFolderState.LIVE
        assert set(find_token_processes(token)) == {ignore_pid, setsid_pid}

        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=HANG_GUARD)

        assert inspect_job_folder(tmp_path) is JobFolderState.ORPHANED
        killed = kill_token_processes(token, grace=0.5)
        assert set(killed) == {ignore_pid, setsid_pid}
        assert _gone(ignore_pid) and _gone(setsid_pid)
        assert find_token_processes(token) == []
        assert decoy.poll() is None  # another job's process is untouched
        assert _wait_found(decoy.token) == [decoy.pid]  # type: ignore[attr-defined]
    finally:
        for pid in (ignore_pid, setsid_pid):
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_kill_with_no_processes_returns_nothing(decoy: subprocess.Popen[bytes]) -> None:
    assert kill_token_processes("nobody-has-this-token", grace=0.1) == []
    assert decoy.poll() is None


def test_token_must_be_safe() -> None:
    with pytest.raises(JobOwnerRecordError, match="token"):
        find_token_processes("")
    with pytest.raises(JobOwnerRecordError, match="token"):
        kill_token_processes("x\x00y")
    with pytest.raises(JobOwnerRecordError, match="token"):
        write_owner(Path("/nonexistent"), "a=b")


def test_live_owner_is_live(tmp_path: Path) -> None:
    owner = write_owner(tmp_path)
    assert owner.pid == os.getpid()
    assert owner.host == socket.gethostname()
    assert owner.process_start is not None and owner.boot_id
    assert len(owner.token) == 32
    assert read_owner(tmp_path) == owner
    assert inspect_job_folder(tmp_path) is JobFolderState.LIVE


def test_end_record_means_finished(tmp_path: Path) -> None:
    write_owner(tmp_path)
    mark_finished(tmp_path, "failed")
    assert inspect_job_folder(tmp_path) is JobFolderState.FINISHED
    end = read_end(tmp_path)
    assert end is not None and end["status"] == "failed" and end["ended_at"]
    assert not list(tmp_path.glob("*.tmp"))


def _rewrite_owner(job_dir: Path, **changes: object) -> None:
    owner = write_owner(job_dir)
    (job_dir / OWNER_FILENAME).write_text(
        dataclasses.replace(owner, **changes).to_json()  # type: ignore[arg-type]
    )


def test_foreign_host_is_unknown(tmp_path: Path) -> None:
    _rewrite_owner(tmp_path, host=socket.gethostname() + "-elsewhere")
    assert inspect_job_folder(tmp_path) is JobFolderState.UNKNOWN


def test_no_owner_is_unknown(tmp_path: Path) -> None:
    assert read_owner(tmp_path) is None
    assert inspect_job_folder(tmp_path) is JobFolderState.UNKNOWN


def test_reused_pid_is_orphaned(tmp_path: Path) -> None:
    """Our own pid, but a start time that is not ours: another process had it."""
    owner = JobOwner.current()
    assert owner.process_start is not None
    _rewrite_owner(tmp_path, process_start=owner.process_start + 12345)
    assert inspect_job_folder(tmp_path) is JobFolderState.ORPHANED


def test_reboot_is_orphaned(tmp_path: Path) -> None:
    _rewrite_owner(tmp_path, boot_id="00000000-0000-0000-0000-000000000000")
    assert inspect_job_folder(tmp_path) is JobFolderState.ORPHANED


def test_dead_pid_is_orphaned(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=HANG_GUARD)
    _rewrite_owner(tmp_path, pid=proc.pid)
    assert inspect_job_folder(tmp_path) is JobFolderState.ORPHANED


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("{not json", "Invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"host": "h"}', "missing"),
        (None, "pid='12'"),
    ],
)
def test_corrupt_owner_record(tmp_path: Path, content: str | None, field: str) -> None:
    if content is None:
        record = json.loads(JobOwner.current().to_json())
        content = json.dumps({**record, "pid": "12"})
    (tmp_path / OWNER_FILENAME).write_text(content)
    with pytest.raises(JobOwnerRecordError, match=field) as info:
        read_owner(tmp_path)
    assert OWNER_FILENAME in str(info.value)
    assert inspect_job_folder(tmp_path) is JobFolderState.UNKNOWN


def test_owner_record_that_is_a_fifo_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / OWNER_FILENAME)
    with pytest.raises(JobOwnerRecordError, match="regular file"):
        read_owner(tmp_path)


def test_owner_record_symlink_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(JobOwner.current().to_json())
    job = tmp_path / "job"
    job.mkdir()
    (job / OWNER_FILENAME).symlink_to(elsewhere)
    with pytest.raises(JobOwnerRecordError, match="Cannot read"):
        read_owner(job)


def test_end_file_name_is_stable() -> None:
    assert END_FILENAME == ".fractal_job_end.json"
    assert OWNER_FILENAME == ".fractal_job_owner.json"


_text = st.text(max_size=20)


@given(
    owner=st.builds(
        JobOwner,
        host=_text,
        pid=st.integers(1, 2**22),
        process_start=st.none() | st.integers(0, 2**40),
        boot_id=st.none() | _text,
        started_at=_text,
        token=st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True),
        version=_text,
    )
)
def test_owner_json_round_trip(owner: JobOwner) -> None:
    assert JobOwner.from_json(owner.to_json()) == owner
