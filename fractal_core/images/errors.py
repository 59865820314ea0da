"""Exceptions of the images package; all derive from FractalCoreError."""

from __future__ import annotations

from fractal_core.errors import FractalCoreError

__all__ = [
    "DuplicateImageError",
    "ImageNotFoundError",
    "ImageOutsideZarrDirError",
    "IncompatibleTypeFiltersError",
]


class IncompatibleTypeFiltersError(ValueError, FractalCoreError):
    """A task's input types and a workflow task's type filters disagree on a key."""

    conflicts: list[str] = []  # set per instance by merge_type_filters


class ImageNotFoundError(KeyError, FractalCoreError):
    """No image with the given zarr_url in the image list."""

    def __init__(self, zarr_url: str) -> None:
        super().__init__(zarr_url)
        self.zarr_url = zarr_url

    def __str__(self) -> str:
        return f"No image with zarr_url='{self.zarr_url}'."


class DuplicateImageError(ValueError, FractalCoreError):
    """An image with the same zarr_url is already in the image list."""

    def __init__(self, zarr_url: str) -> None:
        super().__init__(f"An image with zarr_url='{zarr_url}' already exists.")
        self.zarr_url = zarr_url


class ImageOutsideZarrDirError(ValueError, FractalCoreError):
    """An image's zarr_url is not strictly inside the dataset's zarr_dir."""

    def __init__(self, zarr_url: str, zarr_dir: str) -> None:
        super().__init__(
            f"Image zarr_url='{zarr_url}' is not inside zarr_dir='{zarr_dir}'."
        )
        self.zarr_url = zarr_url
        self.zarr_dir = zarr_dir
