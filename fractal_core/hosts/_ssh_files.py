"""The file half of `SSHHost`: SFTP for single files, tar streams for many.

Every operation is idempotent and retried after a broken connection. Removal
follows the base-folder rule shared by every host (`base.check_removal_target`).
"""

from __future__ import annotations

import io
import logging
import posixpath
import stat
from collections.abc import Sequence

import paramiko

from ._ssh_session import SSHSession
from ._tar_transfer import check_member_names
from ._tar_transfer import extract_tar
from ._tar_transfer import pack_tar
from .base import HostError
from .base import UnsafePathError
from .base import check_removal_target

logger = logging.getLogger("fractal_core.hosts.ssh")


class SSHFiles(SSHSession):
    """Files on the remote host of an `SSHSession` (SFTP, `realpath`, `tar`)."""

    def _stat(
        self, path: str, *, follow: bool = True
    ) -> paramiko.SFTPAttributes | None:
        def op(sftp: paramiko.SFTPClient) -> paramiko.SFTPAttributes | None:
            try:
                return sftp.stat(path) if follow else sftp.lstat(path)
            except FileNotFoundError:
                return None

        try:
            return self._sftp_op(f"stat of {path!r}", op)
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot stat {path!r}: {e}") from e

    def exists(self, path: str) -> bool:
        """True if `path` exists (following symlinks)."""
        return self._stat(path) is not None

    def is_dir(self, path: str) -> bool:
        """True if `path` is a directory."""
        st = self._stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode or 0)

    def is_file(self, path: str) -> bool:
        """True if `path` is a regular file."""
        st = self._stat(path)
        return st is not None and stat.S_ISREG(st.st_mode or 0)

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder (and its parents), tolerating concurrent creation."""
        if not exist_ok and self.exists(path):
            raise HostError(f"SSH {self.login}: cannot create {path!r}: it exists.")
        if self.is_dir(path):
            return
        todo = [path]
        if parents:
            parent = posixpath.dirname(path.rstrip("/"))
            while parent not in ("", "/") and not self.is_dir(parent):
                todo.append(parent)
                parent = posixpath.dirname(parent)
        for folder in reversed(todo):
            self._mkdir_one(folder)

    def _mkdir_one(self, folder: str) -> None:
        def op(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.mkdir(folder)
            except OSError:
                if not stat.S_ISDIR(sftp.stat(folder).st_mode or 0):
                    raise

        try:
            self._sftp_op(f"mkdir of {folder!r}", op)
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot create {folder!r}: {e}") from e

    def write_text(self, path: str, text: str) -> None:
        """Write a UTF-8 text file, replacing any previous content."""
        data = text.encode("utf-8")

        def op(sftp: paramiko.SFTPClient) -> None:
            with sftp.open(path, "wb") as fh:
                fh.write(data)

        try:
            self._sftp_op(f"write of {path!r}", op)
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot write {path!r}: {e}") from e

    def read_text(self, path: str) -> str:
        """Read a UTF-8 text file."""

        def op(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(path, "rb") as fh:
                fh.prefetch()
                return bytes(fh.read())

        try:
            return self._sftp_op(f"read of {path!r}", op).decode("utf-8")
        except OSError as e:
            raise HostError(f"SSH {self.login}: cannot read {path!r}: {e}") from e

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a local file onto the host (SFTP)."""
        try:
            self._sftp_op(
                f"upload to {remote_path!r}",
                lambda sftp: sftp.put(local_path, remote_path),
            )
        except OSError as e:
            raise HostError(
                f"SSH {self.login}: cannot upload {local_path!r} to "
                f"{remote_path!r}: {e}"
            ) from e

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy a file from the host onto this machine (SFTP)."""
        try:
            self._sftp_op(
                f"download of {remote_path!r}",
                lambda sftp: sftp.get(remote_path, local_path),
            )
        except OSError as e:
            raise HostError(
                f"SSH {self.login}: cannot download {remote_path!r} to "
                f"{local_path!r}: {e}"
            ) from e

    # ------------------------------------------------------------ paths

    def realpath(self, path: str) -> str:
        """Resolve symlinks and `..` on the host (missing components allowed)."""
        out = self._exec_bytes(["realpath", "-m", "--", path], f"realpath of {path!r}")
        return out.decode("utf-8").rstrip("\n")

    def remove_tree(self, path: str, *, base: str | None = None) -> None:
        """Remove `path` recursively if it is a real folder strictly inside `base`."""
        base = base if base is not None else self.base
        if base is None:
            raise UnsafePathError(
                f"Refusing removal: no base folder given for path={path!r}."
            )
        check_removal_target(path, base, self.realpath(path), self.realpath(base))
        st = self._stat(path, follow=False)
        if st is not None and stat.S_ISLNK(st.st_mode or 0):
            raise UnsafePathError(f"Refusing removal: path={path!r} is a symlink.")
        if st is None:
            raise HostError(f"Cannot remove {path!r}: No such file or directory.")
        logger.debug("remove_tree %s (base %s) on %s", path, base, self.login)
        self._exec_bytes(["rm", "-rf", "--", path], f"removal of {path!r}")

    # ------------------------------------------------------------ many files

    def put_many(self, local_dir: str, remote_dir: str, names: Sequence[str]) -> None:
        """Copy `names` (relative to `local_dir`) into `remote_dir`: one tar stream."""
        names = check_member_names(names)
        data = pack_tar(local_dir, names)
        self.mkdir(remote_dir)
        self._exec_bytes(
            ["tar", "-x", "-f", "-", "-C", remote_dir],
            f"upload of {len(names)} file(s) to {remote_dir!r}",
            stdin=data,
        )

    def get_many(
        self,
        remote_dir: str,
        local_dir: str,
        names: Sequence[str],
        *,
        missing_ok: bool = False,
    ) -> None:
        """Copy `names` (relative to `remote_dir`) into `local_dir`: one tar stream.

        With `missing_ok`, names missing on the host are skipped (tar's
        `--ignore-failed-read`); otherwise they are an error.
        """
        names = check_member_names(names)
        listing = b"".join(n.encode("utf-8") + b"\0" for n in names)
        lenient = ["--ignore-failed-read"] if missing_ok else []
        data = self._exec_bytes(
            ["tar", "-c", "-f", "-", *lenient, "-C", remote_dir, "--null",
             "--verbatim-files-from", "-T", "-"],
            f"download of {len(names)} file(s) from {remote_dir!r}",
            stdin=listing,
        )  # fmt: skip
        extract_tar(io.BytesIO(data), local_dir, names, missing_ok=missing_ok)
