"""Test helpers: tiny wheels written with the stdlib, and a minimal manifest."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

TASK_SCRIPT = """\
import argparse, json
p = argparse.ArgumentParser()
p.add_argument("--args-json"); p.add_argument("--out-json")
ns = p.parse_args()
args = json.load(open(ns.args_json))
json.dump({"echo": args}, open(ns.out_json, "w"))
"""


def manifest(*names: str, **overrides: Any) -> dict[str, Any]:
    """A valid manifest with one non-parallel task per name (`<name>.py`)."""
    data: dict[str, Any] = {
        "manifest_version": "2",
        "has_args_schemas": False,
        "task_list": [
            {"name": n, "executable_non_parallel": f"{n}.py"} for n in names or ("t1",)
        ],
    }
    data.update(overrides)
    return data


def make_wheel(
    folder: Path,
    dist: str = "tiny_tasks",
    version: str = "1.0.0",
    *,
    manifest_data: dict[str, Any] | str | None = None,
    scripts: tuple[str, ...] | None = None,
    extras: dict[str, list[str]] | None = None,
) -> Path:
    """Write `<dist>-<version>-py3-none-any.whl` with package `<dist>`.

    `manifest_data=None` leaves the manifest out; a string is written verbatim.
    `scripts` defaults to one `<task>.py` per manifest task.
    """
    files: dict[str, bytes] = {f"{dist}/__init__.py": b""}
    if manifest_data is not None:
        raw = (
            manifest_data
            if isinstance(manifest_data, str)
            else json.dumps(manifest_data)
        )
        files[f"{dist}/__FRACTAL_MANIFEST__.json"] = raw.encode()
        if scripts is None and isinstance(manifest_data, dict):
            scripts = tuple(
                t["executable_non_parallel"] for t in manifest_data["task_list"]
            )
    for script in scripts or ():
        files[f"{dist}/{script}"] = TASK_SCRIPT.encode()
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    for extra, reqs in (extras or {}).items():
        meta += f"Provides-Extra: {extra}\n"
        meta += "".join(f'Requires-Dist: {r} ; extra == "{extra}"\n' for r in reqs)
    files[f"{info}/METADATA"] = meta.encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    record = []
    for name, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest())
        record.append(f"{name},sha256={digest.rstrip(b'=').decode()},{len(content)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path
