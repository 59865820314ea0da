"""Image-level invariants shared by the dataset service and the engine."""

from __future__ import annotations

from fractal_core.types import is_url_inside

from .errors import ImageOutsideZarrDirError

__all__ = ["ensure_inside_zarr_dir"]


def ensure_inside_zarr_dir(zarr_url: str, zarr_dir: str) -> None:
    """Raise ImageOutsideZarrDirError unless zarr_url is strictly below zarr_dir.

    Component-wise and S3-aware (weak point 5): `/data/ab/img` is not inside
    `/data/a`, the zarr_dir itself is not inside, mixed S3/local never is.
    Invalid URLs count as outside.
    """
    try:
        inside = is_url_inside(zarr_url, zarr_dir)
    except ValueError:
        inside = False
    if not inside:
        raise ImageOutsideZarrDirError(zarr_url, zarr_dir)
