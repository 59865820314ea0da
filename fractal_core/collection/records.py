"""The task-group record: a JSON file in the group's folder that describes the group.

Written at the end of every successful collection and kept up to date by
deactivation and reactivation, so that a group can be found again from its
folder alone, without any database. It plays the role of the newer servers'
`fractal_task_group_id.txt` (upstream 2.22.9, OFFER 8.6) with more content: the
whole `TaskGroup` (its `id` included when a repository gave it one).

The record holds the group only: no settings (an index URL may carry
credentials), no activity log. Credentials written as `scheme://user:secret@`
inside `env_info` are masked; for pip groups the exact text comes back from the
folder's `pip_freeze.txt` on load.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import uuid
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import ValidationError

from .._version import __version__
from ..domain.task_group import TaskGroup
from ..domain.task_group import TaskGroupOrigin
from ..hosts import Host
from ..hosts import HostError
from ..hosts import LocalHost
from ..types.json_text import JsonTextError
from ..types.json_text import parse_json_bytes
from .activity import ActivityLog
from .errors import CollectionStepError
from .errors import TaskGroupRecordError
from .specs import task_group_path

RECORD_FILENAME = "fractal_task_group.json"
"""Name of the record inside a task-group folder."""

FREEZE_FILENAME = "pip_freeze.txt"
"""Copy of `env_info` kept in the task-group folder (survives deactivation)."""

CUSTOM_FOLDER = "_custom"
"""Folder (below the owner level) holding the records of `other` groups.

An underscore never occurs in a canonical (PEP 503) package name, so this
folder cannot clash with a collected package's folder.
"""

RECORD_VERSION: Literal[1] = 1

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@]+@")


class TaskGroupRecord(BaseModel):
    """What `fractal_task_group.json` holds."""

    model_config = ConfigDict(extra="forbid")

    record_version: Literal[1] = RECORD_VERSION
    written_by: str
    task_group: TaskGroup


def mask_credentials(text: str) -> str:
    """Replace `user:secret@` after any URL scheme with `***@`."""
    return _CREDENTIALS.sub(r"\g<scheme>***@", text)


def custom_record_folder(
    base_dir: str, user_id: int | None, label: str, version: str
) -> str:
    """Where an `other` group's record lives: `<base>/<owner>/_custom/<label>/<ver>`."""
    parent = base_dir if user_id is None else posixpath.join(base_dir, str(user_id))
    return task_group_path(parent, CUSTOM_FOLDER, label, version)


def record_folder(group: TaskGroup, base_dir: str | None) -> str | None:
    """Where `group`'s record lives; None if it has no place (custom, no base)."""
    if group.origin != TaskGroupOrigin.OTHER:
        return group.path
    if base_dir is None:
        return None
    return custom_record_folder(base_dir, group.user_id, group.pkg_name, group.version)


def record_path(folder: str) -> str:
    """The record file of a task-group folder."""
    return posixpath.join(folder, RECORD_FILENAME)


def dump_record(group: TaskGroup) -> str:
    """The record's JSON text for `group` (credentials in `env_info` masked)."""
    data = group.model_dump(mode="json")
    if data.get("env_info"):
        data["env_info"] = mask_credentials(data["env_info"])
    payload = {
        "record_version": RECORD_VERSION,
        "written_by": f"fractal_core {__version__}",
        "task_group": data,
    }
    return json.dumps(payload, indent=2) + "\n"


def write_atomic(host: Host, path: str, text: str) -> None:
    """Write `path` via a temporary sibling and a rename (never seen half-written)."""
    folder, name = posixpath.split(path)
    tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    host.write_text(tmp, text)
    if isinstance(host, LocalHost):
        os.replace(tmp, path)
        return
    res = host.run(["mv", "-f", "--", tmp, path])
    if not res.ok:
        raise CollectionStepError(f"Cannot write {path}: {res.stderr.strip()}")


def write_record(group: TaskGroup, host: Host, folder: str) -> str:
    """Write `group`'s record into `folder` (created if needed); return the file."""
    host.mkdir(folder)
    target = record_path(folder)
    write_atomic(host, target, dump_record(group))
    return target


def _field_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"field {where}: {item['msg']}")
    return "; ".join(parts)


def parse_record(text: str, source: str) -> TaskGroup:
    """The group in record text; `TaskGroupRecordError` naming `source` and field."""
    try:
        data = parse_json_bytes(text.encode())
    except JsonTextError as e:
        raise TaskGroupRecordError(
            f"Task-group record {source} is not valid JSON: {e}."
        ) from e
    if not isinstance(data, dict):
        raise TaskGroupRecordError(
            f"Task-group record {source} must hold a JSON object, "
            f"not {type(data).__name__}."
        )
    try:
        return TaskGroupRecord.model_validate(data).task_group
    except ValidationError as e:
        raise TaskGroupRecordError(
            f"Invalid task-group record {source}: {_field_errors(e)}."
        ) from e
    except ValueError as e:  # domain validators (duplicate names, ...)
        raise TaskGroupRecordError(f"Invalid task-group record {source}: {e}.") from e


def read_record(host: Host, folder: str) -> TaskGroup | None:
    """The group recorded in `folder`, None without a record; errors if corrupt."""
    target = record_path(folder)
    if not host.is_file(target):
        return None
    try:
        text = host.read_text(target)
    except (HostError, OSError, UnicodeDecodeError) as e:
        raise TaskGroupRecordError(
            f"Cannot read task-group record {target}: {e}."
        ) from e
    group = parse_record(text, target)
    freeze = posixpath.join(folder, FREEZE_FILENAME)
    pip_origin = group.origin in (TaskGroupOrigin.PYPI, TaskGroupOrigin.WHEELFILE)
    if pip_origin and group.env_info is not None and host.is_file(freeze):
        group.env_info = host.read_text(freeze)
    return group


def refresh_record(
    group: TaskGroup, host: Host, base_dir: str, log: ActivityLog
) -> None:
    """After a lifecycle change: rewrite the group's record (errors logged only).

    A custom group's record is only rewritten when one exists (it is written
    by `collect_custom` when given settings); a folder group's is always
    (so deactivating a group collected by an older version records it).
    """
    try:
        folder = record_folder(group, base_dir)
        if folder is None:
            return
        if group.origin == TaskGroupOrigin.OTHER and not host.is_file(
            record_path(folder)
        ):
            return
        written = write_record(group, host, folder)
        log.write(f"Updated the task-group record {written}")
    except Exception as e:  # the operation itself succeeded
        log.write(
            f"Could not update the task-group record of {group.pkg_name} "
            f"{group.version}: {e}",
            logging.ERROR,
        )
