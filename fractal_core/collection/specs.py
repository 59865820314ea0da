"""Validation of what a user asks to collect, before anything runs.

Everything here is pure: names, versions, extras, pins and filenames are parsed
with `packaging` (never ad-hoc regexes), and every error names the field and the
offending value.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from typing import get_args

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement
from packaging.utils import InvalidSdistFilename
from packaging.utils import InvalidWheelFilename
from packaging.utils import canonicalize_name
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion
from packaging.version import Version

from ..types.strings import has_dotdot_component
from .errors import InvalidCollectionRequest

PythonVersion = Literal["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
"""Python versions a task environment may be created with (FOLLOW 10.5)."""

PYTHON_VERSIONS: tuple[str, ...] = get_args(PythonVersion)

FORBIDDEN_FILENAME_CHARS = (";", "/", "\\", "\x00")


def _fail(field: str, value: object, why: str) -> InvalidCollectionRequest:
    return InvalidCollectionRequest(f"Invalid {field}={value!r}: {why}")


def validate_package_name(name: str, *, field: str = "package") -> str:
    """Return the canonical (PEP 503) form of a distribution name, or raise."""
    if not isinstance(name, str) or not name.strip():
        raise _fail(field, name, "must be a non-empty string.")
    raw = name.strip()
    try:
        req = Requirement(raw)
    except InvalidRequirement as e:
        raise _fail(field, name, f"not a valid package name ({e}).") from e
    if req.name != raw:
        raise _fail(field, name, "must be a bare package name (no version, extras).")
    return canonicalize_name(raw)


def validate_version(version: str, *, field: str = "version") -> str:
    """Return the version as written if it is a valid PEP 440 version, or raise."""
    if not isinstance(version, str) or not version.strip():
        raise _fail(field, version, "must be a non-empty string.")
    try:
        Version(version.strip())
    except InvalidVersion as e:
        raise _fail(field, version, "not a valid PEP 440 version.") from e
    return version.strip()


def validate_extras(extras: str | None, *, field: str = "package_extras") -> str | None:
    """Validate a comma-separated extras string (`"a,b"`); return it normalised."""
    if extras is None:
        return None
    if not isinstance(extras, str) or not extras.strip():
        raise _fail(field, extras, "must be a non-empty string.")
    try:
        req = Requirement(f"x[{extras.strip()}]")
    except InvalidRequirement as e:
        raise _fail(field, extras, "not a valid comma-separated list of extras.") from e
    if req.specifier or req.marker or req.url:
        raise _fail(field, extras, "not a valid comma-separated list of extras.")
    parts = [p.strip() for p in extras.split(",")]
    return ",".join(parts)


def validate_pins(pins: Mapping[str, str] | None, *, field: str) -> list[str]:
    """Turn `{name[extras]: version}` into requirement strings `name[extras]==v`.

    Extras are allowed in the names (FOLLOW 8.5, e.g. `dask[distributed]`); the
    version must be a PEP 440 version. Each requirement becomes one argv element.
    """
    if not pins:
        return []
    result: list[str] = []
    for key, value in pins.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise _fail(field, {key: value}, "names and versions must be strings.")
        name, ver = key.strip(), value.strip()
        try:
            req = Requirement(name)
        except InvalidRequirement as e:
            raise _fail(field, key, f"not a valid package name ({e}).") from e
        if req.specifier or req.marker or req.url:
            raise _fail(field, key, "must be a package name with optional extras.")
        validate_version(ver, field=f"{field}[{key!r}]")
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        result.append(f"{req.name}{extras}=={ver}")
    return result


def validate_python_version(version: str | None) -> str | None:
    """Check that `version` is one of the supported `X.Y` strings."""
    if version is not None and version not in PYTHON_VERSIONS:
        raise _fail("python_version", version, f"must be one of {PYTHON_VERSIONS}.")
    return version


def _check_filename(filename: str, field: str) -> str:
    if not isinstance(filename, str) or not filename:
        raise _fail(field, filename, "must be a non-empty filename.")
    if any(c in filename for c in FORBIDDEN_FILENAME_CHARS):
        raise _fail(field, filename, "has forbidden characters (must be a filename).")
    if any(c.isspace() for c in filename):
        raise _fail(field, filename, "contains whitespace.")
    if filename in (".", "..") or filename.startswith("-"):
        raise _fail(field, filename, "is not a valid filename.")
    return filename


@dataclass(frozen=True)
class ArchiveName:
    """Canonical package name and version read from a wheel or sdist filename."""

    filename: str
    pkg_name: str
    version: str


def parse_wheel_name(filename: str) -> ArchiveName:
    """Parse a wheel filename (PEP 427) into canonical name and version."""
    _check_filename(filename, "wheel_filename")
    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as e:
        raise _fail(
            "wheel_filename", filename, f"invalid wheel-file name ({e})."
        ) from e
    return ArchiveName(filename, canonicalize_name(name), str(version))


def parse_pixi_archive_name(filename: str) -> ArchiveName:
    """Parse `<name>-<version>.tar.gz` (sdist rules: the last `-` splits)."""
    _check_filename(filename, "tar_gz_filename")
    if not filename.endswith(".tar.gz"):
        raise _fail("tar_gz_filename", filename, "does not end with '.tar.gz'.")
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename as e:
        raise _fail("tar_gz_filename", filename, f"invalid archive name ({e}).") from e
    return ArchiveName(filename, canonicalize_name(name), str(version))


def task_group_path(
    base: str, owner: str | int | None, pkg_name: str, version: str
) -> str:
    """`<base>/<owner>/<pkg_name>/<version>`, refused if it leaves `base` (FOLLOW 8.8).

    Without an owner the folder is `<base>/<pkg_name>/<version>`.
    """
    if not posixpath.isabs(base):
        raise _fail("base_dir", base, "must be an absolute path.")
    if has_dotdot_component(base):
        raise _fail("base_dir", base, "must not contain '..' components.")
    parts = {"pkg_name": pkg_name, "version": version}
    if owner is not None:
        parts = {"owner": str(owner), **parts}
    for field, value in parts.items():
        if not value or "/" in value or value in (".", "..") or "\x00" in value:
            raise _fail(field, value, "would place the task group outside base_dir.")
    path = posixpath.join(base, *parts.values())
    norm_base = posixpath.normpath(base)
    if posixpath.commonpath([norm_base, posixpath.normpath(path)]) != norm_base:
        raise _fail("path", path, f"is not inside base_dir={base!r}.")
    return posixpath.normpath(path)
