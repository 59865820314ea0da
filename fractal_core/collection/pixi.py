"""Pixi collection: a `<pkg>-<version>.tar.gz` source installed with pixi.

The pixi executable is `<PIXI_HOME>/bin/pixi`, called exactly as the reference
does (see the spec, task-lifecycle 3.3):

    pixi install --concurrent-solves N --concurrent-downloads M [--frozen] \
        --manifest-path <path>/source_dir/pyproject.toml
    pixi shell-hook --manifest-path ...            (stdout: sourceable script)
    pixi run --manifest-path ... which python      (stdout: env interpreter)

with `PIXI_HOME`, `PIXI_CACHE_DIR`, `RATTLER_AUTH_FILE` (and `TOKIO_WORKER_THREADS`
for install) in the environment and the task-group folder as working directory.
Task commands go through the wrapper `source_dir/project_python.sh`, which exports
`PYTHONNOUSERSITE=1` (FOLLOW 8.4). Collection passes `--frozen` when
`use_lockfile` is true, the default (FOLLOW 8.1).
"""

from __future__ import annotations

import logging
import os
import posixpath
import shlex

from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupActivityAction
from ..domain.task_group import TaskGroupOrigin
from ..hosts import Host
from ..hosts import LocalHost
from ..manifest import MANIFEST_FILENAME
from .activity import ActivityListener
from .activity import ActivityLog
from .activity import record_failure
from .config import CollectionSettings
from .config import PixiSettings
from .errors import CollectionStepError
from .errors import InvalidCollectionRequest
from .locking import run_locked
from .manifest_tasks import build_tasks
from .manifest_tasks import read_manifest
from .ownership import claim
from .ownership import recover_stale
from .ownership import release
from .ownership import remove_partial
from .pip_collect import abandon_new_folder
from .pip_collect import group_folder
from .pip_collect import prepare_new_folder
from .pip_collect import record_collected
from .pip_collect import start_collection
from .pixi_toml import simplify_pyproject_toml
from .records import refresh_record
from .result import OperationResult
from .reuse import IfExists
from .reuse import validate_if_exists
from .specs import parse_pixi_archive_name
from .steps import FIND_PACKAGE_ROOT
from .steps import StepRunner

logger = logging.getLogger(__name__)

SOURCE_DIR_NAME = "source_dir"


def _pixi_env(settings: PixiSettings, home: str, *, install: bool) -> dict[str, str]:
    env = {
        "PIXI_HOME": home,
        "PIXI_CACHE_DIR": settings.cache_dir or posixpath.join(home, "cache"),
        "RATTLER_AUTH_FILE": posixpath.join(home, "credentials.json"),
    }
    if install:
        env["TOKIO_WORKER_THREADS"] = str(settings.TOKIO_WORKER_THREADS)
    return env


def collect_pixi(
    archive_path: str | os.PathLike[str],
    *,
    settings: CollectionSettings,
    host: Host | None = None,
    pixi_version: str | None = None,
    use_lockfile: bool = True,
    user_id: int | None = None,
    user_group_id: int | None = None,
    resource_id: int | None = None,
    on_change: ActivityListener | None = None,
    if_exists: IfExists = "reuse",
) -> OperationResult:
    """Collect a pixi package from a local `.tar.gz` (top folder `<pkg>-<version>/`).

    A folder already holding this package and version is reused or refused as
    for pip collection (`if_exists`, see `pip_collect`).
    """
    host = host or LocalHost()
    if_exists = validate_if_exists(if_exists)
    archive_path = os.fspath(archive_path)
    name = parse_pixi_archive_name(os.path.basename(archive_path))
    pixi = settings.pixi_settings()
    version, _home = pixi.home(pixi_version)
    if not os.path.isfile(archive_path):
        raise InvalidCollectionRequest(f"Invalid archive={archive_path!r}: not a file.")
    path = group_folder(settings, user_id, name.pkg_name, name.version)
    group = TaskGroup(
        origin=TaskGroupOrigin.PIXI,
        pkg_name=name.pkg_name,
        version=name.version,
        pixi_version=version,
        path=path,
        user_id=user_id,
        user_group_id=user_group_id,
        resource_id=resource_id,
    )
    reused = start_collection(group, host, if_exists, on_change)
    if reused is not None:
        return reused
    log = ActivityLog.for_group(TaskGroupActivityAction.COLLECT, group, on_change)

    def body(log: ActivityLog) -> OperationResult:
        early = prepare_new_folder(host, group, settings, log, if_exists)
        if early is not None:
            return early
        return _collect_locked(group, settings, host, log, archive_path, use_lockfile)

    return run_locked(path, settings, log, body, None, host=host)


def _collect_locked(
    group: TaskGroup,
    settings: CollectionSettings,
    host: Host,
    log: ActivityLog,
    archive_path: str,
    use_lockfile: bool,
) -> OperationResult:
    path = str(group.path)
    runner = StepRunner(host, log, settings)
    created = False
    try:
        log.ongoing()
        claim(host, path, runner.token, path)
        created = True
        host.mkdir(path)
        dest = posixpath.join(path, os.path.basename(archive_path))
        host.put(archive_path, dest)
        group.archive_path = dest
        _extract_and_install(group, settings, runner, frozen=use_lockfile)
        package_root, wrapper = _post_install(group, settings, runner)
        manifest = read_manifest(host, posixpath.join(package_root, MANIFEST_FILENAME))
        tasks = build_tasks(
            host,
            manifest,
            python=wrapper,
            package_root=package_root,
            version=group.version,
        )
        group.set_task_list(tasks)
        group.env_info = host.read_text(posixpath.join(_source_dir(group), "pixi.lock"))
        log.write(f"Collected {len(tasks)} tasks: {[t.name for t in tasks]}")
        record_collected(group, host, log)
        release(host, path)
        log.succeed()
        return OperationResult(log.activity, group)
    except BaseException as e:
        abandon_new_folder(host, path, created, settings, log)
        record_failure(log, e)
        return OperationResult(log.activity, None)


def _source_dir(group: TaskGroup) -> str:
    return posixpath.join(str(group.path), SOURCE_DIR_NAME)


def _home_and_bin(group: TaskGroup, settings: CollectionSettings) -> tuple[str, str]:
    _, home = settings.pixi_settings().home(group.pixi_version)
    return home, posixpath.join(home, "bin", "pixi")


def _extract_and_install(
    group: TaskGroup, settings: CollectionSettings, runner: StepRunner, *, frozen: bool
) -> None:
    """Extract the archive into `source_dir`, simplify pyproject, `pixi install`."""
    host, path, source = runner.host, str(group.path), _source_dir(group)
    archive = str(group.archive_path)
    top = posixpath.basename(archive)[: -len(".tar.gz")]
    runner.run("extract archive", ["tar", "xz", "-f", archive, top], cwd=path)
    runner.run("move source", ["mv", "--", posixpath.join(path, top), source])
    pyproject = posixpath.join(source, "pyproject.toml")
    pixi = settings.pixi_settings()
    simplified = simplify_pyproject_toml(
        host.read_text(pyproject),
        pixi.DEFAULT_ENVIRONMENT,
        pixi.DEFAULT_PLATFORM,
        log=runner.log.write,
    )
    host.write_text(pyproject, simplified)
    if group.env_info is not None and not frozen:
        raise CollectionStepError(
            "Reinstalling from a stored lock file needs --frozen."
        )
    if group.env_info is not None:
        host.write_text(posixpath.join(source, "pixi.lock"), group.env_info)
    home, pixi_bin = _home_and_bin(group, settings)
    argv = [
        pixi_bin,
        "install",
        "--concurrent-solves",
        str(pixi.PIXI_CONCURRENT_SOLVES),
        "--concurrent-downloads",
        str(pixi.PIXI_CONCURRENT_DOWNLOADS),
        *(["--frozen"] if frozen else []),
        "--manifest-path",
        pyproject,
    ]
    runner.run("pixi install", argv, env=_pixi_env(pixi, home, install=True), cwd=path)


def _post_install(
    group: TaskGroup, settings: CollectionSettings, runner: StepRunner
) -> tuple[str, str]:
    """Activation script, Python wrapper, package folder; return (root, wrapper)."""
    host, path, source = runner.host, str(group.path), _source_dir(group)
    pixi = settings.pixi_settings()
    home, pixi_bin = _home_and_bin(group, settings)
    env = _pixi_env(pixi, home, install=False)
    pyproject = posixpath.join(source, "pyproject.toml")
    hook = runner.run(
        "pixi shell-hook",
        [pixi_bin, "shell-hook", "--manifest-path", pyproject],
        env=env,
        cwd=path,
        echo=False,
    ).stdout
    activate = posixpath.join(source, "activate_project.sh")
    host.write_text(activate, hook)
    res = runner.run(
        "pixi which python",
        [pixi_bin, "run", "--manifest-path", pyproject, "which", "python"],
        env=env,
        cwd=path,
    )
    lines = res.stdout.strip().splitlines()
    if not lines or not posixpath.isabs(lines[-1].strip()):
        raise CollectionStepError(f"Cannot find the pixi Python (got {res.stdout!r}).")
    python = lines[-1].strip()
    wrapper = posixpath.join(source, "project_python.sh")
    host.write_text(
        wrapper,
        "#!/bin/bash\n"
        "export PYTHONNOUSERSITE=1\n"
        f"source {shlex.quote(activate)}\n"
        f'exec {shlex.quote(python)} "$@"\n',
    )
    runner.run("chmod wrapper", ["chmod", "755", wrapper])
    runner.log.write(f"Project Python wrapper: {wrapper}")
    import_name = group.pkg_name.replace("-", "_")
    res = runner.run(
        "find package folder", [wrapper, "-c", FIND_PACKAGE_ROOT, import_name]
    )
    out = res.stdout.strip().splitlines()
    if len(out) != 1:
        raise CollectionStepError(f"Cannot determine package folder ({res.stdout!r}).")
    runner.log.write(f"Package folder: {out[0]}")
    runner.run("chmod source", ["chmod", "-R", "755", source])
    return out[0].strip(), wrapper


def deactivate_pixi_locked(
    group: TaskGroup, settings: CollectionSettings, host: Host, log: ActivityLog
) -> OperationResult:
    """Remove `source_dir`; the archive and the lock (`env_info`) stay."""
    source = _source_dir(group)
    group.active = False
    try:
        if not host.exists(source):
            raise CollectionStepError(f"{source!r} does not exist.")
        log.ongoing()
        host.remove_tree(source, base=str(group.path))
        refresh_record(group, host, settings.base_dir, log)
        log.succeed()
    except BaseException as e:
        group.active = True  # FOLLOW 8.7
        record_failure(log, e)
    return OperationResult(log.activity, group)


def reactivate_pixi_locked(
    group: TaskGroup, settings: CollectionSettings, host: Host, log: ActivityLog
) -> OperationResult:
    """Re-extract the archive and reinstall with the stored lock file (`--frozen`)."""
    source, path = _source_dir(group), str(group.path)
    recover_stale(host, source, path, log.write)
    if host.exists(source):
        log.fail(f"{source} already exists.")
        return OperationResult(log.activity, group)
    try:
        log.ongoing()
        runner = StepRunner(host, log, settings)
        claim(host, source, runner.token, path)
        _extract_and_install(group, settings, runner, frozen=True)
        _post_install(group, settings, runner)
        release(host, source)
        group.active = True
        refresh_record(group, host, settings.base_dir, log)
        log.succeed()
    except BaseException as e:
        remove_partial(host, source, path, log)
        record_failure(log, e)
    return OperationResult(log.activity, group)
