"""Constrained strings and string tools: names, absolute paths, URLs, commands."""

from __future__ import annotations

import os
import string
from typing import Annotated

from packaging.utils import canonicalize_name
from pydantic import AfterValidator
from pydantic import HttpUrl
from pydantic import StringConstraints

__all__ = [
    "AbsolutePathStr",
    "HttpUrlStr",
    "NonEmptyStr",
    "SafeNonEmptyStr",
    "SafeRelativePathStr",
    "interpret_as_bool",
    "normalize_local_path",
    "normalize_package_name",
    "sanitize_string",
    "val_absolute_path",
    "val_http_url",
    "val_no_dotdot_in_path",
    "val_non_absolute_path",
    "validate_cmd",
]

SPECIAL_CHARACTERS = f"{string.punctuation}{string.whitespace}"
"""Characters replaced by `_` in `sanitize_string`."""

NOT_ALLOWED_FOR_COMMANDS = r"`#$&*()\|[]{};<>?!"
"""Characters that `validate_cmd` refuses (the reference's 18-character list)."""


def has_dotdot_component(path: str) -> bool:
    """True if any `/`-separated component of `path` is exactly `..`."""
    return ".." in path.split("/")


def val_no_dotdot_in_path(path: str) -> str:
    """Refuse any `..` component (path traversal), naming the offending value."""
    if has_dotdot_component(path):
        raise ValueError(f"String must not contain '/../' (given '{path}').")
    return path


def normalize_local_path(path: str) -> str:
    """Lexical POSIX normalisation of an absolute path, with `//x` collapsed to `/x`.

    `os.path.normpath` keeps exactly two leading slashes (POSIX allows them a
    special meaning); we collapse them so that string equality is meaningful.
    """
    normalized = os.path.normpath(path)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return normalized


def val_absolute_path(path: str) -> str:
    """Require an absolute path without `..` components; return it normalised."""
    if not os.path.isabs(path):
        raise ValueError(f"String must be an absolute path (given '{path}').")
    val_no_dotdot_in_path(path)
    return normalize_local_path(path)


def val_non_absolute_path(path: str) -> str:
    """Require a relative path."""
    if os.path.isabs(path):
        raise ValueError(f"String must not be an absolute path (given '{path}').")
    return path


def val_http_url(value: str) -> str:
    """Require an http(s) URL; return the original string, not the parsed URL."""
    HttpUrl(value)
    return value


def _val_relative_normpath(path: str) -> str:
    """Normalise a relative path lexically (after `..` has been refused)."""
    return os.path.normpath(path)


NonEmptyStr = Annotated[
    str,
    StringConstraints(min_length=1, strip_whitespace=True),
]
"""A string with surrounding whitespace stripped, at least one character long."""

SafeNonEmptyStr = Annotated[
    NonEmptyStr,
    StringConstraints(pattern=r"^([a-zA-Z0-9_. -]+)$"),
]
"""A non-empty string of letters, digits, `_`, `.`, space and `-` only."""

AbsolutePathStr = Annotated[
    NonEmptyStr,
    AfterValidator(val_absolute_path),
]
"""An absolute POSIX path with no `..` component, normalised (2.18+ behaviour)."""

SafeRelativePathStr = Annotated[
    NonEmptyStr,
    AfterValidator(val_no_dotdot_in_path),
    AfterValidator(_val_relative_normpath),
    AfterValidator(val_non_absolute_path),
    StringConstraints(pattern=r"^([a-zA-Z0-9_. /-]+)$"),
]
"""A relative path without `..`, normalised, of safe characters only."""

HttpUrlStr = Annotated[
    NonEmptyStr,
    AfterValidator(val_http_url),
]
"""An http(s) URL, kept as the (stripped) string given."""


def sanitize_string(value: str) -> str:
    """Lower-case `value` and replace each punctuation/whitespace char by `_`.

    Used to derive folder names from user-given names; one-for-one, no collapsing.
    """
    table = str.maketrans({char: "_" for char in SPECIAL_CHARACTERS})
    return value.lower().translate(table)


def validate_cmd(
    command: str,
    *,
    allow_char: str | None = None,
    attribute_name: str = "Command",
) -> None:
    """Refuse a command containing shell metacharacters (minus `allow_char`)."""
    if not isinstance(command, str):
        raise ValueError(f"{command=} is not a string.")
    forbidden = set(NOT_ALLOWED_FOR_COMMANDS)
    if allow_char is not None:
        forbidden -= set(allow_char)
    found = forbidden.intersection(command)
    if found:
        raise ValueError(
            f"{attribute_name} must not contain any of this characters: "
            f"'{''.join(sorted(forbidden))}'\n"
            f"Provided {attribute_name.lower()}: '{command}' "
            f"(contains {''.join(sorted(found))!r})."
        )


def interpret_as_bool(value: bool | str) -> bool:
    """Read a bool, or the strings 'true'/'false' in any case, as a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise ValueError(f"String must be 'true' or 'false' (given '{value}').")
    raise TypeError(f"Expected bool or str, got {type(value)}: '{value}'.")


def normalize_package_name(name: str) -> str:
    """PyPA name normalisation: runs of `-`, `_`, `.` become `-`, lower-cased."""
    return str(canonicalize_name(name))
