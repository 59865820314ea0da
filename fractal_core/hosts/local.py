"""`LocalHost`: the Host seam on this machine, as the current user."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .base import CommandResult
from .base import CommandTimeoutError
from .base import HostError
from .base import OutputCallback
from .base import UnsafePathError
from .base import check_removal_target

logger = logging.getLogger(__name__)


def _pump(stream: IO[str], sink: list[str], on_output: OutputCallback | None) -> None:
    """Read `stream` line by line into `sink`, forwarding each line to `on_output`."""
    for line in iter(stream.readline, ""):
        sink.append(line)
        if on_output is not None:
            try:
                on_output(line.rstrip("\n"))
            except Exception:  # a faulty callback must not kill the reader
                logger.exception("on_output callback failed")
    stream.close()


class LocalHost:
    """Run commands with `subprocess` (argument lists only) and use local files."""

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> CommandResult:
        """Run `argv` without a shell; stream output lines to `on_output`."""
        argv = [str(a) for a in argv]
        if not argv:
            raise HostError("Cannot run an empty argument list.")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        logger.debug("run %r (cwd=%s)", argv, cwd)
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as e:
            raise HostError(f"Cannot run {argv!r}: {e}") from e
        out: list[str] = []
        err: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, out, on_output)),
            threading.Thread(target=_pump, args=(proc.stderr, err, on_output)),
        ]
        for t in readers:
            t.daemon = True
            t.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for t in readers:
                t.join()
            raise CommandTimeoutError(
                argv, timeout or 0, "".join(out), "".join(err)
            ) from e
        for t in readers:
            t.join()
        return CommandResult(tuple(argv), proc.returncode, "".join(out), "".join(err))

    def exists(self, path: str) -> bool:
        """True if `path` exists."""
        return os.path.exists(path)

    def is_dir(self, path: str) -> bool:
        """True if `path` is a directory."""
        return os.path.isdir(path)

    def is_file(self, path: str) -> bool:
        """True if `path` is a regular file."""
        return os.path.isfile(path)

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None:
        """Create a folder."""
        Path(path).mkdir(parents=parents, exist_ok=exist_ok)

    def write_text(self, path: str, text: str) -> None:
        """Write a UTF-8 text file."""
        Path(path).write_text(text, encoding="utf-8")

    def read_text(self, path: str) -> str:
        """Read a UTF-8 text file."""
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise HostError(f"Cannot read {path!r}: {e}") from e

    def realpath(self, path: str) -> str:
        """Resolve symlinks and `..`."""
        return os.path.realpath(path)

    def remove_tree(self, path: str, *, base: str) -> None:
        """Remove `path` recursively if it is a real folder strictly inside `base`."""
        check_removal_target(path, base, self.realpath(path), self.realpath(base))
        if os.path.islink(path):
            raise UnsafePathError(f"Refusing removal: path={path!r} is a symlink.")
        if not os.path.exists(path):
            raise HostError(f"Cannot remove {path!r}: No such file or directory.")
        logger.debug("remove_tree %s (base %s)", path, base)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def put(self, local_path: str, remote_path: str) -> None:
        """Copy a local file to `remote_path` (same machine)."""
        shutil.copyfile(local_path, remote_path)

    def get(self, remote_path: str, local_path: str) -> None:
        """Copy `remote_path` to a local file (same machine)."""
        shutil.copyfile(remote_path, local_path)
