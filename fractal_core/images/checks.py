"""Image-level invariants shared by the dataset service and the engine."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable

from fractal_core.types import normalize_url
from fractal_core.types.urls import url_inside_checker

from .errors import ImageOutsideZarrDirError

__all__ = [
    "ensure_all_inside_zarr_dir",
    "ensure_inside_zarr_dir",
    "inside_zarr_dir_guard",
]


def _never_inside(url: str) -> bool:
    return False


def inside_zarr_dir_guard(zarr_dir: str) -> Callable[[str], None]:
    """`ensure_inside_zarr_dir(·, zarr_dir)` with `zarr_dir` normalised only once.

    For checking many images against one zarr_dir (dataset import); each
    zarr_url is still normalised, so the answers are those of the one-off check.
    """
    try:
        inside = url_inside_checker(zarr_dir)
    except ValueError:  # an invalid zarr_dir contains nothing
        inside = _never_inside

    def ensure(zarr_url: str) -> None:
        try:
            ok = inside(normalize_url(zarr_url))
        except ValueError:
            ok = False
        if not ok:
            raise ImageOutsideZarrDirError(zarr_url, zarr_dir)

    return ensure


def ensure_inside_zarr_dir(zarr_url: str, zarr_dir: str) -> None:
    """Raise ImageOutsideZarrDirError unless zarr_url is strictly below zarr_dir.

    Component-wise and S3-aware (weak point 5): `/data/ab/img` is not inside
    `/data/a`, the zarr_dir itself is not inside, mixed S3/local never is.
    Invalid URLs count as outside.
    """
    inside_zarr_dir_guard(zarr_dir)(zarr_url)


def _plainly_below(tail: str) -> bool:
    """True if `tail` (after the zarr_dir prefix) has no `.`/`..`/empty component,
    no control character and no trailing blank, so normalising cannot move it."""
    return (
        tail.isprintable()
        and "//" not in tail
        and "/." not in "/" + tail
        and not tail.endswith("/")
        and tail == tail.rstrip()
    )


def ensure_all_inside_zarr_dir(zarr_urls: Iterable[str], zarr_dir: str) -> None:
    """`ensure_inside_zarr_dir` on many URLs, about 10x cheaper for plain ones.

    A URL that starts with the normalised `zarr_dir/` and continues with
    plain components is accepted at once; any other goes through the full
    check (normalisation), so the answers are the one-off check's.
    """
    ensure = inside_zarr_dir_guard(zarr_dir)
    try:
        prefix = normalize_url(zarr_dir).rstrip("/") + "/"
    except ValueError:
        prefix = None
    for zarr_url in zarr_urls:
        if (
            prefix is not None
            and zarr_url.startswith(prefix)
            and len(zarr_url) > len(prefix)
            and _plainly_below(zarr_url[len(prefix) :])
        ):
            continue
        ensure(zarr_url)
