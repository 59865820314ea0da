"""Helpers behind the real-task fixtures of conftest.py.

`cached_venv` builds a venv holding one pinned package once and reuses it between
runs: it lives under `$FRACTAL_CORE_TEST_CACHE` (default
`~/.cache/fractal_core_tests`), keyed by package, version and Python version, and
is built in a temporary sibling folder renamed into place under a file lock, so
parallel or interrupted runs never see a half-built venv. `TaskVenv` and
`SyntheticPlate` describe what the fixtures return.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

FRACTAL_TASKS_CORE_VERSION = "2.1.0"
CACHE_ENV_VAR = "FRACTAL_CORE_TEST_CACHE"
COMPLETE_MARKER = ".fractal_core_complete"
PLATE_SCRIPT = Path(__file__).with_name("make_synthetic_plate.py")
INSTALL_TIMEOUT = 1800  # seconds, for pip and for waiting on the lock


@dataclass(frozen=True)
class TaskVenv:
    """An installed task package: its venv python and its manifest."""

    root: Path
    python: Path
    package_name: str
    version: str
    package_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]

    def task(self, name: str) -> dict[str, Any]:
        """The manifest entry of the task called `name`."""
        for task in self.manifest["task_list"]:
            if task["name"] == name:
                return dict(task)
        raise KeyError(f"No task named {name!r} in {self.manifest_path}")

    def command(self, executable: str) -> str:
        """The task command as fractal-server builds it: `<python> <pkg>/<exe>`."""
        return f"{self.python} {self.package_dir / executable}"

    def commands(self, name: str) -> dict[str, str | None]:
        """`{"non_parallel": cmd | None, "parallel": cmd | None}` for task `name`."""
        task = self.task(name)
        return {
            kind: self.command(task[f"executable_{kind}"])
            if task.get(f"executable_{kind}")
            else None
            for kind in ("non_parallel", "parallel")
        }


@dataclass(frozen=True)
class SyntheticPlate:
    """The plate `make_synthetic_plate.py` writes (see that script for contents)."""

    zarr_dir: Path
    plate_name: str
    wells: tuple[str, ...]  # "B/03", "B/05"
    illum_profiles_dir: Path

    @property
    def plate_url(self) -> str:
        return str(self.zarr_dir / self.plate_name)

    @property
    def image_urls(self) -> list[str]:
        return [f"{self.plate_url}/{well}/0" for well in self.wells]


def realtasks_cache_dir() -> Path:
    """Where cached venvs live: `$FRACTAL_CORE_TEST_CACHE` or the user cache."""
    configured = os.environ.get(CACHE_ENV_VAR)
    base = Path(configured) if configured else Path.home() / ".cache"
    folder = base if configured else base / "fractal_core_tests"
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def run_checked(argv: list[str], what: str, timeout: float = INSTALL_TIMEOUT) -> str:
    """Run `argv`; fail the test session with its output if it fails."""
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {proc.returncode}): {argv}\n"
            f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-5000:]}",
            pytrace=False,
        )
    return proc.stdout


def _remove_inside(folder: Path, base: Path) -> None:
    """Delete `folder`, refusing anything that is not strictly inside `base`."""
    resolved = folder.resolve()
    if resolved == base or base not in resolved.parents:
        raise RuntimeError(f"Refusing to delete {resolved}: not inside {base}")
    shutil.rmtree(resolved, ignore_errors=True)


def _venv_python(root: Path) -> Path:
    return root / "bin" / "python"


def cached_folder(cache: Path, name: str, build: Callable[[Path], None]) -> Path:
    """`cache/name`, made once by `build(tmp)` in a temporary sibling, then renamed.

    A file lock serialises builders (other processes wait, then reuse); a folder
    without the completion marker is never used, and a failed build leaves no
    temporary folder behind.
    """
    target = cache / name
    with FileLock(str(cache / f"{name}.lock"), timeout=INSTALL_TIMEOUT):
        if (target / COMPLETE_MARKER).exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f"{name}.tmp-", dir=cache))
        try:
            build(tmp)
            (tmp / COMPLETE_MARKER).write_text(name + "\n")
            if target.exists():  # incomplete leftover, e.g. from an older layout
                _remove_inside(target, cache)
            tmp.rename(target)
        finally:
            if tmp.exists():
                _remove_inside(tmp, cache)
    return target


def _install_venv(folder: Path, requirement: str) -> None:
    """`python -m venv folder` and `pip install requirement` into it."""
    run_checked([sys.executable, "-m", "venv", str(folder)], "venv creation")
    # `python -m pip` rather than bin/pip: script shebangs keep the tmp path
    run_checked(
        [str(_venv_python(folder)), "-m", "pip", "install", "--quiet", requirement],
        f"pip install {requirement}",
    )


def cached_venv(package: str, version: str) -> Path:
    """A venv holding `package==version`, built once and reused between runs."""
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    requirement = f"{package}=={version}"
    return cached_folder(
        realtasks_cache_dir(),
        f"{package}-{version}-{py}",
        lambda tmp: _install_venv(tmp, requirement),
    )


def load_task_venv(root: Path, package: str, module: str, version: str) -> TaskVenv:
    """Locate the package folder and manifest inside the venv (by asking it)."""
    python = _venv_python(root)
    out = run_checked(
        [
            str(python),
            "-c",
            f"import {module}, os; print(os.path.dirname({module}.__file__))",
        ],
        f"import {module}",
    )
    package_dir = Path(out.strip())
    manifest_path = package_dir / "__FRACTAL_MANIFEST__.json"
    return TaskVenv(
        root=root,
        python=python,
        package_name=package,
        version=version,
        package_dir=package_dir,
        manifest_path=manifest_path,
        manifest=json.loads(manifest_path.read_text()),
    )
