"""Clean, on demand, the half-built folders that dead processes left in the base folder.

Operations already recover the folder they are about to build; this sweeps the
whole base folder (e.g. at application start-up). Folders whose owner is alive
or on another host, and folders whose lock is busy, are left alone.
"""

from __future__ import annotations

import logging
import os

from ..hosts import Host
from ..hosts import HostError
from ..hosts import LocalHost
from ..hosts import is_strictly_inside
from .config import CollectionSettings
from .locking import task_group_lock
from .ownership import MARKER_SUFFIX
from .ownership import OwnerState
from .ownership import read_owner
from .ownership import recover_stale

logger = logging.getLogger(__name__)

_MAX_DEPTH = 3
"""Records sit in `<base>/<owner>/<pkg>` (new groups) or in
`<base>/<owner>/<pkg>/<version>` (a venv / source_dir being rebuilt): no need to
descend into environments."""


def find_owner_records(base_dir: str) -> list[str]:
    """Targets (folders) under `base_dir` that have an owner record beside them."""
    targets: list[str] = []
    base_depth = base_dir.rstrip("/").count("/")
    for folder, dirs, files in os.walk(base_dir):
        if folder.rstrip("/").count("/") - base_depth >= _MAX_DEPTH:
            dirs.clear()
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        targets += [
            os.path.join(folder, f[: -len(MARKER_SUFFIX)])
            for f in files
            if f.endswith(MARKER_SUFFIX) and len(f) > len(MARKER_SUFFIX)
        ]
    return sorted(targets)


def find_owner_records_on(host: Host, base_dir: str) -> list[str]:
    """The same list on any host, with `find` (symlinks not followed)."""
    argv = ["find", base_dir, "-mindepth", "1", "-maxdepth", str(_MAX_DEPTH + 1)]
    argv += ["-type", "f", "-name", f"?*{MARKER_SUFFIX}", "-print0"]
    res = host.run(argv)
    if not res.ok and not res.stdout:
        raise HostError(f"Cannot list {base_dir} on {host!r}: {res.stderr.strip()}")
    found = [name for name in res.stdout.split("\0") if name.endswith(MARKER_SUFFIX)]
    return sorted(name[: -len(MARKER_SUFFIX)] for name in found)


def recover_stale_folders(
    settings: CollectionSettings, host: Host | None = None
) -> list[str]:
    """Remove half-built folders whose building process died; return them.

    Looks for owner records under `settings.base_dir` on `host` (this machine
    by default), takes each folder's lock without waiting (a busy lock means a
    live operation) and cleans what `recover_stale` finds stale, killing the
    dead owner's leftover commands where they run.
    """
    host = host or LocalHost()
    if isinstance(host, LocalHost):
        targets = find_owner_records(settings.base_dir)
    elif host.is_dir(settings.base_dir):
        targets = find_owner_records_on(host, settings.base_dir)
    else:
        targets = []
    cleaned: list[str] = []
    for target in targets:
        record = read_owner(host, target)
        if record is None or record.state() != OwnerState.DEAD:
            continue
        if not is_strictly_inside(record.locked_path, settings.base_dir):
            logger.warning("Ignoring owner record of %s: bad locked_path", target)
            continue
        try:
            with task_group_lock(
                record.locked_path,
                lock_dir=settings.lock_dir,
                timeout=0,
                host=host,
                heartbeat_interval=settings.lock_heartbeat_interval,
                heartbeat_stale_after=settings.lock_heartbeat_stale_after,
            ):
                if recover_stale(host, target, settings.base_dir, None):
                    cleaned.append(target)
        except Exception as e:  # busy lock, or a removal refused: leave it
            logger.warning("Not recovering %s: %s", target, e)
    return cleaned
