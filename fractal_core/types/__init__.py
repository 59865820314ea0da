"""Constrained types and validators shared by every fractal_core model.

The aliases are `typing.Annotated` types for pydantic 2 (lax mode); their
validators raise `ValueError`, which pydantic reports as `ValidationError`.
"""

from __future__ import annotations

from .dicts import RESERVED_WFT_ARGUMENTS
from .dicts import DictStrAny
from .dicts import DictStrStr
from .dicts import WorkflowTaskArgument
from .dicts import valdict_keys
from .dicts import validate_wft_args
from .filters import AttributeFilters
from .filters import ImageAttributes
from .filters import ImageAttributesWithNone
from .filters import ImageAttributeValue
from .filters import ImageTypes
from .filters import TypeFilters
from .filters import is_finite_scalar
from .filters import validate_attribute_filters
from .filters import validate_filters
from .lists import ListUniqueAbsolutePathStr
from .lists import ListUniqueNonEmptyString
from .lists import ListUniqueNonNegativeInt
from .lists import val_unique_list
from .strings import AbsolutePathStr
from .strings import HttpUrlStr
from .strings import NonEmptyStr
from .strings import SafeNonEmptyStr
from .strings import SafeRelativePathStr
from .strings import interpret_as_bool
from .strings import normalize_package_name
from .strings import sanitize_string
from .strings import val_absolute_path
from .strings import val_http_url
from .strings import val_no_dotdot_in_path
from .strings import validate_cmd
from .urls import S3PathStr
from .urls import ZarrDirStr
from .urls import ZarrUrlStr
from .urls import is_s3_url
from .urls import is_url_inside
from .urls import join_url
from .urls import normalize_url

__all__ = [
    "RESERVED_WFT_ARGUMENTS",
    "AbsolutePathStr",
    "AttributeFilters",
    "DictStrAny",
    "DictStrStr",
    "HttpUrlStr",
    "ImageAttributeValue",
    "ImageAttributes",
    "ImageAttributesWithNone",
    "ImageTypes",
    "ListUniqueAbsolutePathStr",
    "ListUniqueNonEmptyString",
    "ListUniqueNonNegativeInt",
    "NonEmptyStr",
    "S3PathStr",
    "SafeNonEmptyStr",
    "SafeRelativePathStr",
    "TypeFilters",
    "WorkflowTaskArgument",
    "ZarrDirStr",
    "ZarrUrlStr",
    "interpret_as_bool",
    "is_finite_scalar",
    "is_s3_url",
    "is_url_inside",
    "join_url",
    "normalize_package_name",
    "normalize_url",
    "sanitize_string",
    "val_absolute_path",
    "val_http_url",
    "val_no_dotdot_in_path",
    "val_unique_list",
    "valdict_keys",
    "validate_attribute_filters",
    "validate_cmd",
    "validate_filters",
    "validate_wft_args",
]
