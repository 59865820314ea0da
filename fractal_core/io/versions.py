"""One ordering of task-group versions, shared by import, listings and upgrades.

PEP 440 versions sort above unparsable strings, which sort above a missing
version; within a rank, PEP 440 order or plain string order applies. Sorting
with ``reverse=True`` therefore gives "newest first" as the reference does.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import InvalidVersion
from packaging.version import Version

__all__ = ["VersionKey", "sort_versions_newest_first", "version_sort_key"]

VersionKey = tuple[int, Version | str]

_RANK_NONE = 0
_RANK_UNPARSABLE = 1
_RANK_PEP440 = 2


def version_sort_key(version: str | None) -> VersionKey:
    """Return the ordering key of ``version`` (rank, then value within the rank)."""
    if version is None:
        return (_RANK_NONE, "")
    try:
        return (_RANK_PEP440, Version(version))
    except InvalidVersion:
        return (_RANK_UNPARSABLE, version)


def sort_versions_newest_first(versions: Iterable[str | None]) -> list[str | None]:
    """Sort versions newest first: PEP 440 (descending), unparsable, then None."""
    return sorted(versions, key=version_sort_key, reverse=True)
