"""Images: models, pure helpers on plain image dicts, and the indexed ImageList."""

from __future__ import annotations

from .checks import ensure_inside_zarr_dir
from .errors import DuplicateImageError
from .errors import ImageNotFoundError
from .errors import ImageOutsideZarrDirError
from .errors import IncompatibleTypeFiltersError
from .image_list import ImageList
from .image_list import ImageRecord
from .models import SingleImage
from .models import SingleImageBase
from .models import SingleImageTaskOutput
from .models import SingleImageUpdate
from .status import STATUS_UNSET
from .status import enrich_images_with_status
from .tools import IMAGE_STATUS_KEY
from .tools import ImageSearch
from .tools import aggregate_attributes
from .tools import aggregate_types
from .tools import filter_image_list
from .tools import find_image_by_zarr_url
from .tools import match_filter
from .tools import merge_type_filters

__all__ = [
    "IMAGE_STATUS_KEY",
    "STATUS_UNSET",
    "DuplicateImageError",
    "ImageList",
    "ImageNotFoundError",
    "ImageOutsideZarrDirError",
    "ImageRecord",
    "ImageSearch",
    "IncompatibleTypeFiltersError",
    "SingleImage",
    "SingleImageBase",
    "SingleImageTaskOutput",
    "SingleImageUpdate",
    "aggregate_attributes",
    "aggregate_types",
    "enrich_images_with_status",
    "ensure_inside_zarr_dir",
    "filter_image_list",
    "find_image_by_zarr_url",
    "match_filter",
    "merge_type_filters",
]
