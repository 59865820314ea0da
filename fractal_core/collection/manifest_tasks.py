"""From an installed (or not yet installed) package's manifest to `Task` objects."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import PurePosixPath

from ..domain.task import Task
from ..hosts import Host
from ..manifest import MANIFEST_FILENAME
from ..manifest import ManifestV2
from ..manifest import parse_manifest
from ..types.json_text import JsonTextError
from ..types.json_text import parse_json_bytes
from .errors import CollectionStepError
from .errors import InvalidCollectionRequest


def read_manifest(host: Host, manifest_path: str) -> ManifestV2:
    """Read and validate a manifest file on the host."""
    text = host.read_text(manifest_path)
    try:
        data = parse_json_bytes(text.encode())
    except JsonTextError as e:
        raise CollectionStepError(
            f"Manifest {manifest_path} is not valid JSON: {e}."
        ) from e
    return parse_manifest(data, source=manifest_path)


def build_tasks(
    host: Host,
    manifest: ManifestV2,
    *,
    python: str,
    package_root: str,
    version: str | None,
    check_files: bool = True,
) -> list[Task]:
    """Tasks with commands `<python> <package_root>/<executable>`.

    With `check_files`, every executable must exist on the host (as the
    reference's `check_task_files_exist`).
    """
    tasks = manifest.to_tasks(python, package_root, version)
    if check_files:
        for entry in manifest.task_list:
            for side in ("non_parallel", "parallel"):
                exe = getattr(entry, f"executable_{side}")
                if exe is None:
                    continue
                target = posixpath.join(package_root, exe)
                if not host.is_file(target):
                    raise CollectionStepError(
                        f"Task `{entry.name}` has `command_{side}` pointing to "
                        f"missing file `{target}`."
                    )
    return tasks


def tasks_from_installed_manifest(
    host: Host, manifest_path: str, *, python: str, version: str | None
) -> list[Task]:
    """Read the manifest, take its folder as package root, build checked tasks."""
    manifest = read_manifest(host, manifest_path)
    root = posixpath.dirname(manifest_path)
    return build_tasks(
        host, manifest, python=python, package_root=root, version=version
    )


def manifest_from_wheel(wheel_path: str, version: str | None) -> ManifestV2:
    """Validate the manifest inside a wheel before installing it.

    The manifest must exist exactly once outside the `.dist-info` folder, be
    valid, and produce valid tasks with unique names (dry run of `to_tasks`).
    """
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            names = [
                n
                for n in zf.namelist()
                if PurePosixPath(n).name == MANIFEST_FILENAME
                and not PurePosixPath(n).parts[0].endswith(".dist-info")
            ]
            if not names:
                raise InvalidCollectionRequest(
                    f"Invalid wheel_filename={posixpath.basename(wheel_path)!r}: "
                    f"the wheel contains no {MANIFEST_FILENAME}."
                )
            if len(names) > 1:
                raise InvalidCollectionRequest(
                    f"Invalid wheel_filename={posixpath.basename(wheel_path)!r}: "
                    f"the wheel contains {len(names)} manifests: {names}."
                )
            raw = zf.read(names[0])
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidCollectionRequest(
            f"Invalid wheel file={wheel_path!r}: cannot read it as a zip ({e})."
        ) from e
    try:
        data = parse_json_bytes(raw)
    except JsonTextError as e:
        raise InvalidCollectionRequest(
            f"Manifest {names[0]} in wheel {wheel_path!r} is not valid JSON: {e}."
        ) from e
    manifest = parse_manifest(data, source=f"{wheel_path}!{names[0]}")
    root = posixpath.dirname("/" + names[0])
    manifest.to_tasks("/python", root, version)  # dry run: raises ManifestError
    return manifest
