"""Moving unit files between this process and the host that runs the jobs.

When the host sees a unit's files under other paths (`WorkUnit.*_remote`, e.g.
a remote login node over SSH or another user's folder), the args files go to
the host before submission and outputs and logs come back once units end.
Files are grouped by (local folder, host folder) so that a host able to move
many files at once (`SSHHost`: one tar stream each way) does one transfer per
folder pair instead of one per file; other hosts copy file by file.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from collections.abc import Sequence
from pathlib import Path

from ...hosts._tar_transfer import transfer_from_host
from ...hosts._tar_transfer import transfer_to_host
from ...hosts.base import Host
from ...hosts.base import HostError
from ..base import WorkUnit

FolderPair = tuple[str, str]
"""(folder on this machine, folder on the host)."""


def group_by_folders(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[FolderPair, list[str]], list[tuple[str, str]]]:
    """(local, host) path pairs as names per folder pair, plus renamed leftovers.

    A pair whose two paths have the same file name joins its folder pair;
    one that renames the file is returned apart (copied on its own).
    """
    groups: dict[FolderPair, list[str]] = {}
    single: list[tuple[str, str]] = []
    for local, remote in pairs:
        name = os.path.basename(local)
        if not name or name != posixpath.basename(remote):
            single.append((local, remote))
            continue
        key = (os.path.dirname(local), posixpath.dirname(remote))
        names = groups.setdefault(key, [])
        if name not in names:
            names.append(name)
    return groups, single


def _moved(path: Path, remote: str | None) -> str | None:
    """The host path of a file when the host sees it elsewhere, else None."""
    return None if remote is None or remote == str(path) else remote


def send_args_files(host: Host, units: Sequence[WorkUnit]) -> None:
    """Copy the units' args files to the host: one transfer per folder pair."""
    pairs = [
        (str(unit.args_file), remote)
        for unit in units
        if (remote := _moved(unit.args_file, unit.args_file_remote)) is not None
    ]
    groups, single = group_by_folders(pairs)
    for (local_dir, remote_dir), names in groups.items():
        transfer_to_host(host, local_dir, remote_dir, names)
    for local, remote in single:
        host.mkdir(posixpath.dirname(remote))
        host.put(local, remote)


KIND_NAMES = {
    "d": "a directory",
    "l": "a symbolic link",
    "p": "a FIFO",
    "s": "a socket",
    "c": "a character device",
    "b": "a block device",
}
"""`find -printf %y` letters of what is not a regular file ("f")."""

FIND_CHUNK = 500
"""Paths per `find` call (keeps command lines short)."""


def host_file_kinds(host: Host, paths: Sequence[str]) -> dict[str, str]:
    """The `find -printf %y` letter of each absolute path that exists on the host.

    Missing paths are left out; raises `HostError` when the host cannot say.
    """
    kinds: dict[str, str] = {}
    for start in range(0, len(paths), FIND_CHUNK):
        chunk = [p for p in paths[start : start + FIND_CHUNK] if posixpath.isabs(p)]
        if not chunk:
            continue
        result = host.run(
            ["find", *chunk, "-maxdepth", "0", "-printf", "%y %p\\0"], timeout=120
        )
        if result.returncode not in (0, 1):  # 1: some path is missing
            raise HostError(
                f"Cannot list unit files on the host: {result.stderr.strip()[-500:]}"
            )
        for entry in result.stdout.split("\0"):
            kind, sep, path = entry.partition(" ")
            if sep:
                kinds[path] = kind
    return kinds


def fetch_unit_files(
    host: Host, units: Sequence[WorkUnit], *, outputs: bool = True
) -> dict[str, str]:
    """Copy back the outputs (if `outputs`) and logs the units left on the host.

    Files the units did not write are skipped, and so is anything that is not
    a regular file: those come back as {host path: what it is} (e.g. "a
    FIFO") for the caller to refuse. Raises `HostError` when the host cannot
    be read (a unit must then not be judged from files that did not come).
    """
    pairs: list[tuple[str, str]] = []
    for unit in units:
        wanted = [(unit.log_file, unit.log_file_remote)]
        if outputs:
            wanted.append((unit.output_file, unit.output_file_remote))
        for path, remote in wanted:
            moved = _moved(path, remote)
            if moved is not None:
                pairs.append((str(path), moved))
    if not pairs:
        return {}
    kinds = host_file_kinds(host, [remote for _, remote in pairs])
    groups, single = group_by_folders([p for p in pairs if kinds.get(p[1]) == "f"])
    try:
        for (local_dir, remote_dir), names in groups.items():
            transfer_from_host(host, remote_dir, local_dir, names, missing_ok=True)
        for local, remote in single:
            os.makedirs(os.path.dirname(local), exist_ok=True)
            host.get(remote, local)
    except OSError as exc:
        raise HostError(f"Cannot fetch unit files from the host: {exc}") from exc
    return {
        path: KIND_NAMES.get(kind, "not a regular file")
        for path, kind in kinds.items()
        if kind != "f"
    }
