"""Find collected task groups again from their folders, without any database.

`load_task_group` reads one folder's record (see `records`), checks where it
lies and that its environment is still there; a folder collected before records
existed is rebuilt from the installed package's manifest. `find_task_groups`
lists every recorded group below the base folder.
"""

from __future__ import annotations

import logging
import os
import posixpath

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupOrigin
from ..hosts import Host
from ..hosts import HostError
from ..hosts import LocalHost
from ..hosts import is_strictly_inside
from ..types.strings import has_dotdot_component
from .config import CollectionSettings
from .errors import CollectionStepError
from .errors import InvalidCollectionRequest
from .errors import TaskGroupEnvironmentMissing
from .errors import TaskGroupRecordError
from .manifest_tasks import tasks_from_installed_manifest
from .ownership import read_owner
from .records import FREEZE_FILENAME
from .records import RECORD_FILENAME
from .records import read_record
from .records import record_path
from .specs import validate_package_name
from .specs import validate_version
from .steps import locate_manifest_argv
from .steps import parse_located_manifest
from .steps import venv_python

logger = logging.getLogger(__name__)

_REBUILD_TIMEOUT = 600.0
"""Seconds allowed to each command of a rebuild when no settings are given."""

_MAX_DEPTH = 4
"""Records sit at most at `<base>/<owner>/_custom/<label>/<version>`."""

_NOT_GROUP_FOLDERS = {"venv", "source_dir"}


def _folder_of(path: str | os.PathLike[str]) -> str:
    """The task-group folder named by `path` (the folder, or its record file)."""
    text = os.fspath(path)
    if not isinstance(text, str) or not posixpath.isabs(text):
        raise InvalidCollectionRequest(
            f"Invalid path={text!r}: must be an absolute path."
        )
    if has_dotdot_component(text):
        raise InvalidCollectionRequest(
            f"Invalid path={text!r}: must not contain '..' components."
        )
    folder = posixpath.normpath(text)
    if posixpath.basename(folder) == RECORD_FILENAME:
        folder = posixpath.dirname(folder)
    return folder


def _check_inside(host: Host, folder: str, base_dir: str) -> None:
    """Refuse a folder outside the base folder, lexically or through a symlink."""
    real_base = host.realpath(base_dir)
    if not is_strictly_inside(folder, base_dir) or not is_strictly_inside(
        host.realpath(folder), real_base
    ):
        raise InvalidCollectionRequest(
            f"Invalid path={folder!r}: not inside the base folder {base_dir!r} "
            f"(resolves to {host.realpath(folder)!r})."
        )


def _command_files(group: TaskGroup) -> list[str]:
    """Interpreter and script of every task command (absolute paths only)."""
    files: list[str] = []
    for task in group.task_list:
        for command in (task.command_non_parallel, task.command_parallel):
            for part in (command or "").split(" ")[:2]:
                if posixpath.isabs(part) and part not in files:
                    files.append(part)
    return files


def check_environment(group: TaskGroup, host: Host, source: str) -> None:
    """An active group's venv and task files must exist (inactive: nothing to check)."""
    if not group.active:
        return
    needed = []
    if group.venv_path is not None and group.origin != TaskGroupOrigin.PIXI:
        needed.append(venv_python(group.venv_path))
    needed += _command_files(group)
    missing = [path for path in needed if not host.exists(path)]
    if missing:
        raise TaskGroupEnvironmentMissing(
            f"Task group {group.pkg_name!r} (version {group.version}) recorded in "
            f"{source} is active but its environment is gone: {missing[0]} does not "
            f"exist{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}. "
            "Delete the group and collect it again."
        )


def _check_location(group: TaskGroup, folder: str, source: str) -> None:
    """A recorded folder group must be recorded in its own folder (not moved)."""
    if group.origin == TaskGroupOrigin.OTHER or group.path is None:
        return
    if posixpath.normpath(group.path) != folder:
        raise TaskGroupRecordError(
            f"Invalid task-group record {source}: field task_group.path="
            f"{group.path!r} does not match the folder it lies in ({folder!r}); "
            "a moved environment does not work (its commands hold absolute paths)."
        )


def load_recorded(folder: str, host: Host) -> TaskGroup:
    """The group recorded in `folder` (checked); `TaskGroupRecordError` if none."""
    group = read_record(host, folder)
    source = record_path(folder)
    if group is None:
        raise TaskGroupRecordError(f"Task-group folder {folder} has no {source}.")
    _check_location(group, folder, source)
    check_environment(group, host, source)
    return group


def load_task_group(
    path: str | os.PathLike[str],
    *,
    settings: CollectionSettings | None = None,
    host: Host | None = None,
) -> TaskGroup:
    """The task group collected in folder `path` (or recorded in file `path`).

    With `settings`, the folder must lie inside their base folder. An active
    group's venv and task files must exist (`TaskGroupEnvironmentMissing`). A
    folder without a record (collected by an older version) is rebuilt from
    the installed package's manifest and the folder's name.
    """
    host = host or LocalHost()
    folder = _folder_of(path)
    if settings is not None:
        _check_inside(host, folder, settings.base_dir)
    if not host.is_dir(folder):
        raise TaskGroupRecordError(f"Task-group folder {folder} does not exist.")
    if host.is_file(record_path(folder)):
        return load_recorded(folder, host)
    if read_owner(host, folder) is not None:
        raise TaskGroupRecordError(
            f"Task-group folder {folder} is being built (or was left half-built): "
            "it has an owner record and no task-group record."
        )
    return rebuild_task_group(folder, settings=settings, host=host)


def _owner_and_names(
    folder: str, settings: CollectionSettings | None
) -> tuple[int | None, str, str]:
    """`(user_id, pkg_name, version)` from `<base>[/<owner>]/<pkg>/<version>`."""
    parent = posixpath.dirname(folder)
    pkg, version = posixpath.basename(parent), posixpath.basename(folder)
    if settings is not None:
        depth = len(posixpath.relpath(folder, settings.base_dir).split("/"))
        owner = posixpath.basename(posixpath.dirname(parent)) if depth == 3 else None
        if depth not in (2, 3):
            raise TaskGroupRecordError(
                f"Cannot rebuild {folder}: no {RECORD_FILENAME}, and it is not a "
                f"<owner>/<package>/<version> folder of {settings.base_dir}."
            )
    else:
        candidate = posixpath.basename(posixpath.dirname(parent))
        owner = candidate if candidate.isdigit() else None
    if owner is not None and not owner.isdigit():
        raise TaskGroupRecordError(
            f"Cannot rebuild {folder}: owner folder {owner!r} is not a user id."
        )
    try:
        pkg = validate_package_name(pkg, field="package folder")
        version = validate_version(version, field="version folder")
    except InvalidCollectionRequest as e:
        raise TaskGroupRecordError(f"Cannot rebuild {folder}: {e}") from e
    return (None if owner is None else int(owner)), pkg, version


def _python_version(host: Host, venv: str) -> str | None:
    """`major.minor` from the venv's `pyvenv.cfg`, None if unreadable."""
    try:
        text = host.read_text(posixpath.join(venv, "pyvenv.cfg"))
    except (HostError, OSError):
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2]) or None
    return None


def _wheel_in_freeze(env_info: str, pkg_name: str, folder: str) -> str | None:
    """The wheel inside `folder` the package was installed from, per pip freeze."""
    for line in env_info.splitlines():
        name, sep, url = line.partition(" @ ")
        if not sep or canonicalize_name(name.strip()) != pkg_name:
            continue
        target = url.strip().removeprefix("file://").split("#", 1)[0]
        if target.endswith(".whl") and is_strictly_inside(target, folder):
            return target
    return None


def _run(host: Host, argv: list[str], timeout: float, what: str) -> str:
    try:
        res = host.run(argv, timeout=timeout)
    except HostError as e:
        raise TaskGroupRecordError(f"Cannot rebuild: {what} failed: {e}") from e
    if not res.ok:
        raise TaskGroupRecordError(
            f"Cannot rebuild: {what} failed: {(res.stderr or res.stdout)[-1000:]}"
        )
    return res.stdout


def rebuild_task_group(
    folder: str, *, settings: CollectionSettings | None, host: Host
) -> TaskGroup:
    """A pip group without a record, from its folder name and installed manifest.

    Extras and pins cannot be recovered (they are left empty); the origin is
    `wheel-file` when pip freeze names a wheel inside the folder.
    """
    user_id, pkg, version = _owner_and_names(folder, settings)
    venv = posixpath.join(folder, "venv")
    python = venv_python(venv)
    if not host.is_file(python):
        raise TaskGroupEnvironmentMissing(
            f"Cannot rebuild the task group in {folder}: no {RECORD_FILENAME} and "
            f"no environment ({python} does not exist; pixi and deactivated groups "
            "need a record)."
        )
    timeout = (settings.step_timeout if settings else None) or _REBUILD_TIMEOUT
    stdout = _run(
        host, locate_manifest_argv(python, pkg), timeout, "locating the manifest"
    )
    try:
        manifest_path, _installed = parse_located_manifest(stdout, pkg)
        tasks = tasks_from_installed_manifest(
            host, manifest_path, python=python, version=version
        )
    except CollectionStepError as e:
        raise TaskGroupRecordError(f"Cannot rebuild {folder}: {e}") from e
    freeze = posixpath.join(folder, FREEZE_FILENAME)
    env_info = (
        host.read_text(freeze)
        if host.is_file(freeze)
        else _run(host, [python, "-m", "pip", "freeze", "--all"], timeout, "pip freeze")
    )
    wheel = _wheel_in_freeze(env_info, pkg, folder)
    group = TaskGroup(
        origin=TaskGroupOrigin.WHEELFILE if wheel else TaskGroupOrigin.PYPI,
        pkg_name=pkg,
        version=version,
        python_version=_python_version(host, venv),
        path=folder,
        venv_path=venv,
        archive_path=wheel,
        env_info=env_info,
        user_id=user_id,
    )
    group.set_task_list(tasks)
    logger.info(
        "No %s in %s (collected by an older version): rebuilt the task group "
        "from the installed manifest %s and the folder name.",
        RECORD_FILENAME,
        folder,
        manifest_path,
    )
    return group


def _record_folders_local(base_dir: str) -> list[str]:
    """Folders holding a record, at most `_MAX_DEPTH` below `base_dir` (local walk)."""
    found: list[str] = []
    base_depth = base_dir.rstrip("/").count("/")
    for folder, dirs, files in os.walk(base_dir):
        if RECORD_FILENAME in files and folder.rstrip("/") != base_dir.rstrip("/"):
            found.append(folder)
            dirs.clear()
            continue
        if folder.rstrip("/").count("/") - base_depth >= _MAX_DEPTH:
            dirs.clear()
        dirs[:] = [
            d
            for d in dirs
            if d not in _NOT_GROUP_FOLDERS
            and not os.path.islink(os.path.join(folder, d))
        ]
    return found


def _record_folders_remote(host: Host, base_dir: str) -> list[str]:
    """The same list on a remote host, with `find` (no symlinks followed)."""
    argv = ["find", base_dir, "-mindepth", "2", "-maxdepth", str(_MAX_DEPTH + 1)]
    argv += ["-type", "f", "-name", RECORD_FILENAME, "-print0"]
    res = host.run(argv)
    if not res.ok and not res.stdout:
        raise TaskGroupRecordError(
            f"Cannot list {base_dir}: {res.stderr.strip()[-1000:]}"
        )
    # NUL-separated: folder names may hold newlines (e.g. a custom group's label).
    return [posixpath.dirname(name) for name in res.stdout.split("\0") if name]


def _sort_key(group: TaskGroup) -> tuple[object, ...]:
    try:
        version: tuple[object, ...] = (0, Version(group.version))
    except InvalidVersion:
        version = (1, group.version)
    return (group.pkg_name, version, group.user_id or -1, str(group.origin))


def find_task_groups(
    settings: CollectionSettings, *, host: Host | None = None
) -> list[TaskGroup]:
    """Every recorded task group below `settings.base_dir`, by package and version.

    Returns what `load_task_group` would return for each folder with a record
    (custom groups' records included); folders with an owner record (being
    built, or left half-built) are skipped, and so are records that do not
    load (with a warning naming the folder and the reason).
    """
    host = host or LocalHost()
    base = settings.base_dir
    if not host.is_dir(base):
        return []
    if isinstance(host, LocalHost):
        folders = _record_folders_local(base)
    else:
        folders = _record_folders_remote(host, base)
    groups = []
    for folder in sorted(folders):
        if read_owner(host, folder) is not None:
            logger.info("Skipping %s: it is being built (owner record).", folder)
            continue
        try:
            _check_inside(host, folder, base)
            groups.append(load_recorded(folder, host))
        except (
            TaskGroupRecordError,
            TaskGroupEnvironmentMissing,
            InvalidCollectionRequest,
        ) as e:
            logger.warning("Skipping task-group folder %s: %s", folder, e)
    return sorted(groups, key=_sort_key)
