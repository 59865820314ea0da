"""Custom collection: tasks of a Python environment that already exists.

Nothing is installed and no folder is created: the caller gives the manifest,
the interpreter and either the package root or an importable package name.
As the reference, this creates no activity; errors raise at once. The version is
required (FOLLOW 8.11).

Such a group has no folder of its own. Given `settings`, its record is written
to `<base>/<owner>/_custom/<label>/<version>/fractal_task_group.json` (see
`records.custom_record_folder`), so that `find_task_groups` and
`load_task_group` find it again; running it again rewrites that record.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping
from typing import Any

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupOrigin
from ..hosts import Host
from ..hosts import HostError
from ..hosts import LocalHost
from ..manifest import ManifestV2
from ..manifest import parse_manifest
from ..types.strings import has_dotdot_component
from .config import CollectionSettings
from .errors import CollectionStepError
from .errors import InvalidCollectionRequest
from .manifest_tasks import build_tasks
from .records import custom_record_folder
from .records import write_record
from .specs import validate_package_name
from .steps import FIND_PACKAGE_ROOT

logger = logging.getLogger(__name__)

_PROBE = "import sys; print(sys.executable)"


def _abs(value: str, field: str) -> str:
    if not isinstance(value, str) or not posixpath.isabs(value.strip()):
        raise InvalidCollectionRequest(
            f"Invalid {field}={value!r}: must be an absolute path."
        )
    if has_dotdot_component(value):
        raise InvalidCollectionRequest(
            f"Invalid {field}={value!r}: must not contain '..' components."
        )
    return value.strip()


def collect_custom(
    manifest: ManifestV2 | Mapping[str, Any],
    *,
    python_interpreter: str,
    label: str,
    version: str,
    package_root: str | None = None,
    package_name: str | None = None,
    host: Host | None = None,
    check_files: bool = False,
    user_id: int | None = None,
    user_group_id: int | None = None,
    resource_id: int | None = None,
    settings: CollectionSettings | None = None,
) -> TaskGroup:
    """Build an `other` task group from an existing environment.

    With `settings`, the group's record is written below their base folder.
    """
    host = host or LocalHost()
    if (package_root is None) == (package_name is None):
        raise InvalidCollectionRequest(
            "One and only one must be set between 'package_root' and 'package_name'."
        )
    if not isinstance(label, str) or not label.strip():
        raise InvalidCollectionRequest(f"Invalid label={label!r}: must be non-empty.")
    if not isinstance(version, str) or not version.strip():
        raise InvalidCollectionRequest(
            f"Invalid version={version!r}: a version is required."
        )
    if not isinstance(manifest, ManifestV2):
        manifest = parse_manifest(dict(manifest))
    python = _abs(python_interpreter, "python_interpreter")
    if not host.is_file(python):
        what = "is not a file" if host.exists(python) else "is not accessible"
        raise InvalidCollectionRequest(
            f"Invalid python_interpreter={python!r}: {what}."
        )
    try:
        probe = host.run([python, "-c", _PROBE])
        problem = None if probe.ok else probe.stderr.strip()[-500:]
    except HostError as e:
        problem = str(e)
    if problem is not None:
        raise InvalidCollectionRequest(
            f"Invalid python_interpreter={python!r}: it is not executable ({problem})."
        )
    if package_root is not None:
        root = _abs(package_root, "package_root")
        if not host.exists(root):
            raise InvalidCollectionRequest(
                f"Invalid package_root={root!r}: not accessible."
            )
        if not host.is_dir(root):
            raise InvalidCollectionRequest(
                f"Invalid package_root={root!r}: is not a directory."
            )
    else:
        assert package_name is not None
        validate_package_name(package_name, field="package_name")
        import_name = package_name.strip().replace("-", "_")
        res = host.run([python, "-c", FIND_PACKAGE_ROOT, import_name])
        lines = res.stdout.strip().splitlines()
        if not res.ok or len(lines) != 1:
            raise InvalidCollectionRequest(
                f"Cannot determine 'package_root' for package_name={package_name!r}."
                f"\nstdout: {res.stdout.strip()}\nstderr: {res.stderr.strip()[-1000:]}"
            )
        root = lines[0].strip()
    try:
        tasks = build_tasks(
            host,
            manifest,
            python=python,
            package_root=root,
            version=version.strip(),
            check_files=check_files,
        )
    except CollectionStepError as e:
        raise InvalidCollectionRequest(str(e)) from e
    group = TaskGroup(
        origin=TaskGroupOrigin.OTHER,
        pkg_name=label.strip(),
        version=version.strip(),
        user_id=user_id,
        user_group_id=user_group_id,
        resource_id=resource_id,
    )
    group.set_task_list(tasks)
    if settings is not None:
        folder = custom_record_folder(
            settings.base_dir, user_id, group.pkg_name, group.version
        )
        written = write_record(group, host, folder)
        logger.info("Wrote the record of custom task group %s", written)
    return group
