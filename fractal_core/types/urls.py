"""Zarr URLs and zarr dirs: local absolute paths or `s3://` URLs, S3-aware helpers.

Every `zarr_url`, `origin` and `zarr_dir` goes through `normalize_url`, so that
plain string equality between URLs is meaningful (image look-ups compare strings).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

from .strings import NonEmptyStr
from .strings import has_dotdot_component
from .strings import normalize_local_path
from .strings import val_no_dotdot_in_path

__all__ = [
    "S3_SCHEME",
    "S3PathStr",
    "ZarrDirStr",
    "ZarrUrlStr",
    "is_s3_url",
    "is_url_inside",
    "join_url",
    "normalize_url",
    "url_inside_checker",
    "val_no_control_characters",
    "val_s3_path",
]

S3_SCHEME = "s3://"


def is_s3_url(url: str) -> bool:
    """True for strings using the `s3://` scheme (case-sensitive, as upstream)."""
    return url.startswith(S3_SCHEME)


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def val_no_control_characters(value: str, field: str = "URL") -> str:
    """Refuse NUL and the other ASCII control characters, naming field and index.

    No file system path needs them, and a NUL byte cuts the path short in C
    libraries (2.17.0 accepts them). `str.isprintable` is a cheap pre-check.
    """
    if value.isprintable():
        return value
    found = _CONTROL_CHARACTER.search(value)
    if found is not None:
        raise ValueError(
            f"{field} must not contain control characters (found "
            f"{found.group()!r} at index {found.start()}; given {value!r})."
        )
    return value


def normalize_url(url: str, *, field: str = "URL") -> str:
    """Return the canonical form of a zarr URL or zarr dir.

    - `/...`: lexical POSIX normalisation (duplicate slashes, `.` and trailing
      slashes removed; a leading `//` collapsed to `/`).
    - `s3://...`: kept as is, except that trailing slashes are removed.
    - anything else (relative paths, `http://`, `S3://`, `s3:/x`, `s3bucket`)
      is refused, and so is any `..` component (2.18+ behaviour), and any
      control character such as NUL (`field` names the value in that error).
    """
    url = val_no_control_characters(url.strip(), field)
    if url.startswith("/"):
        val_no_dotdot_in_path(url)
        return normalize_local_path(url)
    if is_s3_url(url):
        val_no_dotdot_in_path(url[len(S3_SCHEME) :])
        normalized = url.rstrip("/")
        if normalized == S3_SCHEME.rstrip("/") or normalized.startswith("s3:///"):
            raise ValueError(f"S3 URL must name a bucket (given '{url}').")
        return normalized
    raise ValueError(f"URLs must begin with '/' or 's3://' (given '{url}').")


def join_url(base: str, *parts: str) -> str:
    """Join relative `parts` onto `base` (local path or `s3://` URL), normalised.

    Unlike `os.path.join`, an absolute part or a `..` component is refused
    instead of silently escaping `base`.
    """
    for part in parts:
        if part.startswith("/"):
            raise ValueError(f"Cannot join absolute part '{part}' onto '{base}'.")
        if has_dotdot_component(part):
            raise ValueError(f"Cannot join part '{part}' containing '..'.")
    base = normalize_url(base)
    if is_s3_url(base):
        joined = posixpath.join(base[len(S3_SCHEME) :], *parts)
        return normalize_url(S3_SCHEME + joined)
    return normalize_url(posixpath.join(base, *parts))


def url_inside_checker(directory: str) -> Callable[[str], bool]:
    """`is_url_inside(url, directory)` for already normalised URLs, prefix built once.

    For hot loops over validated images (the engine's new-image check). On
    normalised URLs a plain prefix test is the component-wise, S3-aware rule:
    the `/` ending the prefix stops `/data/ab` from counting as inside `/data/a`,
    and a local prefix (`/...`) never starts an `s3://` URL, nor the reverse.
    An invalid `directory` raises `ValueError`.
    """
    normalized = normalize_url(directory)
    prefix = normalized if normalized.endswith("/") else normalized + "/"

    def check(url: str) -> bool:
        return len(url) > len(prefix) and url.startswith(prefix)

    return check


def is_url_inside(url: str, directory: str) -> bool:
    """True if `url` lies strictly below `directory` (both normalised first).

    Component-wise, not a plain prefix test: `/data/ab/img` is not inside
    `/data/a`; a URL equal to the directory is not inside it; an S3 URL is never
    inside a local directory and vice versa. Invalid URLs raise `ValueError`.
    """
    normalized = normalize_url(url)
    return url_inside_checker(directory)(normalized)


def _normalize_zarr_url(value: str) -> str:
    return normalize_url(value, field="zarr URL")


ZarrUrlStr = Annotated[NonEmptyStr, AfterValidator(_normalize_zarr_url)]
"""A zarr URL (local absolute path or `s3://`), normalised by `normalize_url`."""


def _normalize_zarr_dir(value: str) -> str:
    return normalize_url(value, field="zarr_dir")


ZarrDirStr = Annotated[NonEmptyStr, AfterValidator(_normalize_zarr_dir)]
"""A zarr dir; same rules as `ZarrUrlStr`."""


_S3_PATH = re.compile(r"^s3://([^/]+)/(.+)$")
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def val_s3_path(value: str) -> str:
    """Require `s3://<bucket>/<key>` with an AWS-valid bucket name and key size."""
    match = _S3_PATH.match(value)
    if match is None:
        raise ValueError(
            f"S3 URL must match pattern 's3://bucket/key' (given '{value}')"
        )
    bucket, key = match.groups()
    problems = []
    if not 3 <= len(bucket) <= 63:
        problems.append("must be between 3 and 63 characters long")
    if not _BUCKET_CHARS.match(bucket):
        problems.append(
            "must start and end with a lowercase letter or digit and contain only "
            "lowercase letters, digits, '.' and '-'"
        )
    if ".." in bucket:
        problems.append("must not contain two adjacent periods")
    if _IPV4.match(bucket):
        problems.append("must not be formatted as an IP address")
    if bucket.startswith(_BUCKET_BAD_PREFIXES):
        problems.append(f"must not start with any of {_BUCKET_BAD_PREFIXES}")
    if bucket.endswith(_BUCKET_BAD_SUFFIXES):
        problems.append(f"must not end with any of {_BUCKET_BAD_SUFFIXES}")
    if problems:
        raise ValueError(f"S3 bucket name {'; '.join(problems)} (given '{bucket}')")
    if len(key.encode("utf-8", errors="surrogatepass")) > 1024:
        raise ValueError(f"S3 key must not exceed 1024 bytes (given '{value}')")
    return value


S3PathStr = Annotated[NonEmptyStr, AfterValidator(val_s3_path)]
"""An `s3://bucket/key` URL with AWS bucket-name rules (for project dirs)."""
