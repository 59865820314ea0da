"""Build and install the `fractal_tasks_testkit` package into a real venv.

Used by the engine tests through a session fixture (see `conftest.py`): the
package is built as a wheel with the stdlib (no network, no setuptools), installed
with `pip --no-index` into a fresh virtual environment, and its manifest is
turned into commands the way task collection does
(`<venv python> <package_root>/<executable>`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from fractal_core.domain.task import Task

TESTKIT_SOURCE = (
    Path(__file__).resolve().parents[1] / "task_packages" / "fractal_tasks_testkit"
)
PKG_NAME = "fractal-tasks-testkit"
IMPORT_NAME = "fractal_tasks_testkit"


@dataclass
class InstalledTestkit:
    """An installed copy of the testkit: interpreter, package folder, manifest."""

    python: Path
    package_root: Path
    wheel: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    version: str = "0.1.0"

    def manifest_task(self, name: str) -> dict[str, Any]:
        """The manifest entry of task `name` (KeyError if unknown)."""
        for entry in self.manifest["task_list"]:
            if entry["name"] == name:
                return entry
        raise KeyError(name)

    def task(self, name: str) -> Task:
        """The domain `Task` of manifest entry `name`."""
        return task_from_manifest(self, name)

    def commands(self, name: str) -> tuple[str | None, str | None]:
        """(command_non_parallel, command_parallel) as collection would build them."""
        entry = self.manifest_task(name)
        out: list[str | None] = []
        for key in ("executable_non_parallel", "executable_parallel"):
            exe = entry.get(key)
            out.append(
                None if exe is None else f"{self.python} {self.package_root / exe}"
            )
        return out[0], out[1]


def task_from_manifest(kit: InstalledTestkit, name: str) -> Task:
    """A domain `Task` for manifest entry `name`, as collection would create it."""
    entry = kit.manifest_task(name)
    command_non_parallel, command_parallel = kit.commands(name)
    return Task(
        name=entry["name"],
        type=entry["type"],
        command_non_parallel=command_non_parallel,
        command_parallel=command_parallel,
        input_types=entry.get("input_types", {}),
        output_types=entry.get("output_types", {}),
        meta_non_parallel=entry.get("meta_non_parallel", {}),
        meta_parallel=entry.get("meta_parallel", {}),
        docs_info=entry.get("docs_info"),
        version=kit.version,
    )


def _run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"Command {argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def build_wheel(workdir: Path) -> Path:
    """Write the testkit wheel with the stdlib (no setuptools/wheel/network needed).

    A pure-Python wheel is a zip of the package plus a `.dist-info` folder with
    METADATA, WHEEL and RECORD (sha256 of every file); that is all pip needs.
    """
    version = _project_version()
    dist_info = f"{IMPORT_NAME}-{version}.dist-info"
    files: dict[str, bytes] = {}
    pkg_dir = TESTKIT_SOURCE / "src" / IMPORT_NAME
    for path in sorted(pkg_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"{IMPORT_NAME}/{path.relative_to(pkg_dir).as_posix()}"] = (
                path.read_bytes()
            )
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {PKG_NAME}\nVersion: {version}\n"
        "Requires-Python: >=3.9\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: fractal_core-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record_lines = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record_lines.append(f"{name},sha256={digest.decode()},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    wheel_dir = workdir / "dist"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheel = wheel_dir / f"{IMPORT_NAME}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def _project_version() -> str:
    """The version declared in the testkit's pyproject.toml."""
    text = (TESTKIT_SOURCE / "pyproject.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', text, flags=re.MULTILINE)
    if match is None:
        raise RuntimeError("No version in the testkit pyproject.toml")
    return match.group(1)


def install_testkit(workdir: Path) -> InstalledTestkit:
    """Build the wheel, create a venv, install the wheel; return what tests need."""
    wheel = build_wheel(workdir)
    venv = workdir / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
    )
    location = _run(
        [
            str(python),
            "-c",
            f"import {IMPORT_NAME}, os; print(os.path.dirname({IMPORT_NAME}.__file__))",
        ]
    ).strip()
    package_root = Path(location)
    manifest = json.loads((package_root / "__FRACTAL_MANIFEST__.json").read_text())
    return InstalledTestkit(
        python=python, package_root=package_root, wheel=wheel, manifest=manifest
    )
