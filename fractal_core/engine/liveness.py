"""Crash visibility: who runs a job folder, is it still alive, what did it leave.

A job folder holds two small JSON records, each written atomically (tmp file
then `os.replace`):

- `.fractal_job_owner.json` (`JobOwner`): host name, pid, the process's start
  time (field 22 of `/proc/<pid>/stat`, clock ticks since boot) and the boot
  id, so neither a reused pid nor a reboot is mistaken for the owner; plus
  when it started, a random token and the library version;
- `.fractal_job_end.json`: the final status and when it ended.

`inspect_job_folder` tells a LIVE job from an ORPHANED one (same host, owner
dead or machine rebooted, no end record), a FINISHED one (end record), or
UNKNOWN (no owner record, an unreadable one, or another host: we cannot look
at its processes). Hosts are told apart by name: containers sharing a host
name but not a pid namespace are not supported.

Every task process of a job gets `FRACTAL_CORE_JOB_TOKEN=<token>` in its
environment; children inherit it, even those that left the process group, so
`find_token_processes` / `kill_token_processes` find them all through
`/proc/<pid>/environ` (Linux only; a process that exec'd with a cleared
environment escapes). Signals go through a pidfd opened before the environment
is checked, so a pid reused in between is never signalled.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
import signal
import socket
import stat
import time
import uuid
from dataclasses import asdict
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import FractalCoreError

__all__ = [
    "END_FILENAME",
    "OWNER_FILENAME",
    "TOKEN_ENV",
    "JobFolderState",
    "JobOwner",
    "JobOwnerRecordError",
    "find_token_processes",
    "inspect_job_folder",
    "kill_token_processes",
    "mark_finished",
    "owner_is_alive",
    "process_start_time",
    "read_end",
    "read_owner",
    "write_owner",
]

logger = logging.getLogger(__name__)

OWNER_FILENAME = ".fractal_job_owner.json"
END_FILENAME = ".fractal_job_end.json"
TOKEN_ENV = "FRACTAL_CORE_JOB_TOKEN"
_PROC = Path("/proc")
_BOOT_ID_FILE = _PROC / "sys/kernel/random/boot_id"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_MAX_KILL_ROUNDS = 10
_POLL = 0.05


class JobOwnerRecordError(ValueError, FractalCoreError):
    """A job folder's owner or end record is not what this module writes."""


class JobFolderState(enum.Enum):
    """What a job folder's records say about the process that ran it."""

    LIVE = "live"
    ORPHANED = "orphaned"
    FINISHED = "finished"
    UNKNOWN = "unknown"


def _library_version() -> str:
    try:
        return metadata.version("fractal-core")
    except metadata.PackageNotFoundError:
        return "unknown"


def _boot_id() -> str | None:
    try:
        return _BOOT_ID_FILE.read_text().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of `/proc/<pid>/stat` (after the command name), or None."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].decode("ascii", "replace").split()


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (stat field 22), or None."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def _is_running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] != "Z"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class JobOwner:
    """The process that runs a job folder, as recorded in its owner file."""

    host: str
    pid: int
    process_start: int | None
    boot_id: str | None
    started_at: str
    token: str
    version: str

    @classmethod
    def current(cls, token: str | None = None) -> JobOwner:
        """This process as an owner; a fresh random token unless one is given."""
        pid = os.getpid()
        return cls(
            host=socket.gethostname(),
            pid=pid,
            process_start=process_start_time(pid),
            boot_id=_boot_id(),
            started_at=_now_iso(),
            token=_check_token(token if token is not None else uuid.uuid4().hex),
            version=_library_version(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: Path | str = "<string>") -> JobOwner:
        """Parse an owner record; JobOwnerRecordError naming `source` if invalid."""
        data = _load_object(text, source)
        try:
            owner = cls(**data)
        except TypeError as exc:
            raise JobOwnerRecordError(
                f"Invalid job owner record {source}: {exc}"
            ) from None
        _check_field(source, "host", owner.host, str)
        _check_field(source, "pid", owner.pid, int)
        _check_field(source, "process_start", owner.process_start, int | None)
        _check_field(source, "boot_id", owner.boot_id, str | None)
        _check_field(source, "started_at", owner.started_at, str)
        _check_field(source, "token", owner.token, str)
        _check_field(source, "version", owner.version, str)
        return owner


def _check_field(source: Path | str, name: str, value: Any, kind: Any) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise JobOwnerRecordError(
            f"Invalid job owner record {source}: field {name}={value!r}"
        )


def _check_token(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise JobOwnerRecordError(
            f"Invalid job token {token!r}: 1-128 letters, digits, '_', '.', '-'"
        )
    return token


def _load_object(text: str, source: Path | str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise JobOwnerRecordError(f"Invalid JSON in {source}: {exc}") from None
    if not isinstance(data, dict):
        raise JobOwnerRecordError(f"Invalid record {source}: not a JSON object")
    return data


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_record(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JobOwnerRecordError(f"Cannot read {path}: {exc}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise JobOwnerRecordError(f"{path} is not a regular file")
        return f.read(64 * 1024).decode("utf-8", "replace")


def write_owner(job_dir: Path, token: str | None = None) -> JobOwner:
    """Record this process as the owner of `job_dir`; return the record."""
    owner = JobOwner.current(token)
    _write_atomically(Path(job_dir) / OWNER_FILENAME, owner.to_json())
    return owner


def read_owner(job_dir: Path) -> JobOwner | None:
    """The owner record of `job_dir`; None if absent, JobOwnerRecordError if bad."""
    path = Path(job_dir) / OWNER_FILENAME
    text = _read_record(path)
    return None if text is None else JobOwner.from_json(text, path)


def mark_finished(job_dir: Path, status: str) -> None:
    """Write the end record: from now on the folder is FINISHED."""
    record = {"status": str(status), "ended_at": _now_iso()}
    _write_atomically(Path(job_dir) / END_FILENAME, json.dumps(record))


def read_end(job_dir: Path) -> dict[str, Any] | None:
    """The end record (`status`, `ended_at`) of `job_dir`, or None."""
    path = Path(job_dir) / END_FILENAME
    text = _read_record(path)
    return None if text is None else _load_object(text, path)


def owner_is_alive(owner: JobOwner) -> bool:
    """The recorded process still runs (same host and boot, same start time)."""
    if owner.boot_id is not None and owner.boot_id != _boot_id():
        return False
    if not _is_running(owner.pid):
        return False
    return owner.process_start is None or (
        process_start_time(owner.pid) == owner.process_start
    )


def inspect_job_folder(job_dir: Path) -> JobFolderState:
    """LIVE, ORPHANED, FINISHED or UNKNOWN (see the module docstring)."""
    job_dir = Path(job_dir)
    if (job_dir / END_FILENAME).exists():
        return JobFolderState.FINISHED
    try:
        owner = read_owner(job_dir)
    except JobOwnerRecordError as exc:
        logger.warning("Job folder %s: %s", job_dir, exc)
        return JobFolderState.UNKNOWN
    if owner is None or owner.host != socket.gethostname():
        return JobFolderState.UNKNOWN
    return JobFolderState.LIVE if owner_is_alive(owner) else JobFolderState.ORPHANED


def _has_token(pid: int, entry: bytes) -> bool:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return entry in environ.split(b"\0")


def _token_entry(token: str) -> bytes:
    return f"{TOKEN_ENV}={_check_token(token)}".encode()


def find_token_processes(token: str) -> list[int]:
    """Pids of this user's live processes whose environment holds the token."""
    entry = _token_entry(token)
    me, uid = os.getpid(), os.getuid()
    found: list[int] = []
    for proc in _PROC.iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        pid = int(proc.name)
        try:
            if proc.stat().st_uid != uid:
                continue
        except OSError:
            continue
        if _is_running(pid) and _has_token(pid, entry):
            found.append(pid)
    return sorted(found)


def _signal(pid: int, sig: int, entry: bytes) -> bool:
    """Send `sig` to `pid` only if it still carries the token; True if sent."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if not _has_token(pid, entry):
            return False
        signal.pidfd_send_signal(pidfd, sig)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def _wait_gone(pids: set[int], entry: bytes, grace: float) -> set[int]:
    """Wait up to `grace` seconds; return the pids still running with the token."""
    deadline = time.monotonic() + grace
    alive = set(pids)
    while alive:
        alive = {p for p in alive if _is_running(p) and _has_token(p, entry)}
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(_POLL)
    return alive


def kill_token_processes(token: str, grace: float = 2.0) -> list[int]:
    """SIGTERM every process with the token, SIGKILL survivors; return the pids.

    Scans again after each round (a dying process may have started others),
    at most a bounded number of rounds.
    """
    entry = _token_entry(token)
    killed: set[int] = set()
    for _ in range(_MAX_KILL_ROUNDS):
        pids = {
            p for p in find_token_processes(token) if _signal(p, signal.SIGTERM, entry)
        }
        if not pids:
            break
        killed |= pids
        for pid in _wait_gone(pids, entry, grace):
            _signal(pid, signal.SIGKILL, entry)
        _wait_gone(pids, entry, grace)
    left = find_token_processes(token)
    if left:
        logger.warning("Processes with job token %s still running: %s", token, left)
    return sorted(killed)
