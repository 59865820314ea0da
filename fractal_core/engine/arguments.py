"""The argument dictionaries written to each unit's `args.json` (spec §2.2).

Reserved keys come first, then the workflow task's user arguments; for
non-parallel (and compound init) phases `zarr_urls` is added last. Converters
get no `zarr_urls` key at all; parallel and compute units get no `zarr_dir`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

__all__ = [
    "RESERVED_ARGUMENT_KEYS",
    "compute_unit_args",
    "non_parallel_args",
    "parallel_unit_args",
]

RESERVED_ARGUMENT_KEYS = frozenset({"zarr_dir", "zarr_url", "zarr_urls", "init_args"})


def non_parallel_args(
    *,
    zarr_dir: str,
    user_args: Mapping[str, Any] | None,
    zarr_urls: Sequence[str] | None,
) -> dict[str, Any]:
    """Non-parallel / compound init; `zarr_urls=None` for converters (key absent)."""
    args: dict[str, Any] = {"zarr_dir": zarr_dir, **(user_args or {})}
    if zarr_urls is not None:
        args["zarr_urls"] = list(zarr_urls)
    return args


def parallel_unit_args(
    *, zarr_url: str, user_args: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One unit of a parallel task."""
    return {"zarr_url": zarr_url, **(user_args or {})}


def compute_unit_args(
    *,
    zarr_url: str,
    init_args: Mapping[str, Any],
    user_args: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """One compute unit of a compound task."""
    return {"zarr_url": zarr_url, "init_args": dict(init_args), **(user_args or {})}
