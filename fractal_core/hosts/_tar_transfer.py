"""Moving many small files as one tar archive, and a fallback for any host.

`put_many`/`get_many` are optional `Host` methods: `SSHHost` sends one tar
stream each way instead of one SFTP transfer per file. `transfer_to_host` and
`transfer_from_host` use them when a host has them and copy file by file
otherwise (e.g. `LocalHost`, `SudoHost`), so callers need not care.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from collections.abc import Sequence
from typing import IO

from ..types.strings import has_dotdot_component
from .base import Host
from .base import HostError
from .base import UnsafePathError


def check_member_names(names: Sequence[str]) -> list[str]:
    """The names as a list, if each is a relative path without `..`; else raise."""
    out = []
    for name in names:
        if (
            not isinstance(name, str)
            or not name
            or name.startswith("/")
            or has_dotdot_component(name)
            or "\0" in name
        ):
            raise UnsafePathError(
                f"Refusing transfer: file name {name!r} must be a non-empty relative "
                "path without '..'."
            )
        out.append(name)
    return out


def pack_tar(local_dir: str, names: Sequence[str]) -> bytes:
    """An uncompressed tar archive (in memory) of `names` below `local_dir`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in names:
            path = os.path.join(local_dir, name)
            if os.path.islink(path) or not os.path.isfile(path):
                raise HostError(f"Cannot send {path!r}: not a regular file.")
            tar.add(path, arcname=name, recursive=False)
    return buf.getvalue()


def extract_tar(
    fileobj: IO[bytes],
    local_dir: str,
    names: Sequence[str],
    *,
    missing_ok: bool = False,
) -> None:
    """Extract the regular files of an archive into `local_dir`; all must be named.

    Members that are not regular files, or not among `names`, are refused (the
    archive comes from another machine); `filter="data"` guards the rest. A
    name absent from the archive is an error unless `missing_ok`.
    """
    wanted = set(names)
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        members = tar.getmembers()
        got = {m.name for m in members if m.isfile()}
        for m in members:
            if (
                not (m.isdir() or m.isfile())
                or (m.isfile() and m.name not in wanted)
                or m.name.startswith("/")
                or has_dotdot_component(m.name)
            ):
                raise UnsafePathError(f"Refusing archive member {m.name!r}.")
        missing = sorted(wanted - got)
        if missing and not missing_ok:
            raise HostError(f"Files missing from the archive: {missing[:5]!r}.")
        os.makedirs(local_dir, exist_ok=True)
        tar.extractall(local_dir, members=members, filter="data")


def transfer_to_host(
    host: Host, local_dir: str, remote_dir: str, names: Sequence[str]
) -> None:
    """Copy `names` from `local_dir` to `remote_dir` on `host` (tar if it can)."""
    names = check_member_names(names)
    put_many = getattr(host, "put_many", None)
    if put_many is not None:
        put_many(local_dir, remote_dir, names)
        return
    for name in names:
        target = posixpath.join(remote_dir, name)
        host.mkdir(posixpath.dirname(target))
        host.put(os.path.join(local_dir, name), target)


def transfer_from_host(
    host: Host,
    remote_dir: str,
    local_dir: str,
    names: Sequence[str],
    *,
    missing_ok: bool = False,
) -> None:
    """Copy `names` from `remote_dir` on `host` into `local_dir` (tar if it can).

    With `missing_ok`, names that do not exist on the host are skipped.
    """
    names = check_member_names(names)
    get_many = getattr(host, "get_many", None)
    if get_many is not None:
        get_many(remote_dir, local_dir, names, missing_ok=missing_ok)
        return
    for name in names:
        source = posixpath.join(remote_dir, name)
        if missing_ok and not host.is_file(source):
            continue
        target = os.path.join(local_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        host.get(source, target)
