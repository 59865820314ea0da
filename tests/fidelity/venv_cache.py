"""A venv holding fractal-server 2.17.0, built once and reused between runs.

It lives under `$FRACTAL_CORE_TEST_CACHE` (default `~/.cache/fractal_core_tests`),
keyed by package, version and Python version. It is built in a temporary sibling
folder, marked complete, then renamed into place, all under a file lock, so
parallel or interrupted runs never use a half-built venv. Only its python is
used afterwards (to run `reference_driver.py`), which works after the rename.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from filelock import FileLock

CACHE_ENV_VAR = "FRACTAL_CORE_TEST_CACHE"
COMPLETE_MARKER = ".fractal_core_complete"
INSTALL_TIMEOUT = 1800  # seconds, for pip and for waiting on the lock


class VenvBuildError(RuntimeError):
    """Creating the venv or installing into it failed; the message has the output."""


def cache_dir() -> Path:
    """`$FRACTAL_CORE_TEST_CACHE`, or `~/.cache/fractal_core_tests`; created."""
    configured = os.environ.get(CACHE_ENV_VAR)
    folder = (
        Path(configured) if configured else Path.home() / ".cache/fractal_core_tests"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def _run(argv: list[str]) -> None:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise VenvBuildError(
            f"{argv} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )


def _remove_inside(folder: Path, base: Path) -> None:
    """Delete `folder`, refusing anything that is not strictly inside `base`."""
    resolved = folder.resolve()
    if base not in resolved.parents:
        raise RuntimeError(f"Refusing to delete {resolved}: not inside {base}")
    shutil.rmtree(resolved, ignore_errors=True)


def cached_venv(package: str, version: str) -> Path:
    """The root of a venv with `package==version` installed (built on first use)."""
    cache = cache_dir()
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    name = f"{package}-{version}-{py}"
    target = cache / name
    with FileLock(str(cache / f"{name}.lock"), timeout=INSTALL_TIMEOUT):
        if (target / COMPLETE_MARKER).exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f"{name}.tmp-", dir=cache))
        try:
            _run([sys.executable, "-m", "venv", str(tmp)])
            python = str(tmp / "bin" / "python")
            _run([python, "-m", "pip", "install", "--quiet", f"{package}=={version}"])
            (tmp / COMPLETE_MARKER).write_text(name + "\n")
            if target.exists():  # an incomplete leftover
                _remove_inside(target, cache)
            tmp.rename(target)
        finally:
            if tmp.exists():
                _remove_inside(tmp, cache)
    return target
