"""Which release of a package to collect: ask the index through pip, then choose.

The index is queried on the host with `<python> -m pip index versions --pre`, so
the host's own pip configuration (proxies, mirrors) applies. Choosing is pure and
uses PEP 440 ordering (weak point 9 of the spec): an exact match wins (as the
reference, `1.3` is a prefix request, not `1.3.0`), otherwise
the newest release whose leading release segments equal the request (`1.3`
matches `1.3.10`, not `1.30`), pre-releases only when the request is one, and
unparsable versions are skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from packaging.version import InvalidVersion
from packaging.version import Version

from ..hosts import Host
from .errors import PackageIndexError
from .errors import PackageVersionNotFound

logger = logging.getLogger(__name__)

_AVAILABLE = re.compile(r"^Available versions:\s*(.*)$", re.MULTILINE)


def _parse(versions: Iterable[str]) -> list[tuple[Version, str]]:
    parsed = []
    for v in versions:
        try:
            parsed.append((Version(v), v))
        except InvalidVersion:
            logger.debug("Skipping unparsable version %r", v)
    return parsed


def choose_version(
    name: str,
    versions: Iterable[str],
    requested: str | None,
    *,
    reference_rules: bool = False,
) -> str:
    """Pick the release to install among `versions` (strings as the index lists them).

    Raises `PackageVersionNotFound` when nothing matches. `reference_rules`
    reproduces fractal-server 2.17.0 exactly (see `choose_version_reference`).
    """
    if reference_rules:
        return choose_version_reference(name, list(versions), requested)
    parsed = _parse(versions)
    if not parsed:
        raise PackageVersionNotFound(f"No valid release found for package {name!r}.")
    if requested is None:
        final = [p for p in parsed if not p[0].is_prerelease]
        return max(final or parsed)[1]
    try:
        want = Version(requested)
    except InvalidVersion as e:
        raise PackageVersionNotFound(
            f"Invalid version={requested!r} for package {name!r}."
        ) from e
    for v, text in parsed:
        # Exact match: same version with as many release segments as requested
        # ("1.3" is a prefix request, not a synonym of "1.3.0").
        if v == want and len(v.release) == len(want.release):
            return text
    n = len(want.release)
    candidates = [
        (v, text)
        for v, text in parsed
        if v.release[:n] == want.release
        and v.epoch == want.epoch
        and (want.is_prerelease or not v.is_prerelease)
        and (want.pre is None or v.pre == want.pre)
    ]
    if not candidates:
        raise PackageVersionNotFound(
            f"No version starting with {requested} found for package {name!r}.\n"
            f"Hint: specify the required version for {name!r}."
        )
    return max(candidates)[1]


def choose_version_reference(
    name: str, versions: list[str], requested: str | None
) -> str:
    """fractal-server 2.17.0's rules, kept for compatibility (weak point 9).

    The latest version (PEP 440 maximum, pre-releases included) is computed
    first and any unparsable entry fails; a requested version listed verbatim
    wins; otherwise the string-wise largest entry that starts with it.
    """
    try:
        latest = max(versions, key=Version)
    except InvalidVersion as e:
        raise PackageIndexError(
            f"Cannot find latest version (original error: {e})."
        ) from e
    except ValueError as e:
        raise PackageVersionNotFound(f"No release found for package {name!r}.") from e
    if requested is None:
        return latest
    if requested in versions:
        return requested
    candidates = sorted(v for v in versions if v.startswith(requested))
    if not candidates:
        raise PackageVersionNotFound(
            f"No version starting with {requested} found.\n"
            f"Hint: specify the required version for {name!r}."
        )
    return candidates[-1]


def list_index_versions(
    host: Host,
    python: str,
    name: str,
    *,
    index_url: str | None = None,
    timeout: float | None = None,
) -> list[str]:
    """Releases of `name` known to the index, via `pip index versions --pre`."""
    argv = [python, "-m", "pip", "index", "versions", "--pre", name]
    if index_url:
        argv += ["--index-url", index_url]
    res = host.run(argv, env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"}, timeout=timeout)
    match = _AVAILABLE.search(res.stdout)
    if res.returncode != 0 or match is None:
        detail = (res.stderr.strip() or res.stdout.strip())[-2000:]
        raise PackageIndexError(
            f"Could not get the versions of package {name!r} from the index.\n"
            f"{detail}\nHint: specify the required version for {name!r}."
        )
    return [v.strip() for v in match.group(1).split(",") if v.strip()]


def resolve_version(
    host: Host,
    python: str,
    name: str,
    requested: str | None,
    *,
    index_url: str | None = None,
    timeout: float | None = None,
    reference_rules: bool = False,
) -> str:
    """Query the index and choose the release (see `choose_version`)."""
    versions = list_index_versions(
        host, python, name, index_url=index_url, timeout=timeout
    )
    return choose_version(name, versions, requested, reference_rules=reference_rules)
