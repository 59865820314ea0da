"""Pydantic models of the workflow JSON files (reference format).

Dataset files use ``fractal_core.domain.dataset.DatasetImport``/``DatasetExport``.

They accept files written by fractal-server 2.17.0 and by 2.19+ (workflow
``description``, workflow-task ``alias``/``description``), convert the legacy
``input_filters`` of pre-2.11 files, and refuse the ``source`` task references
that 2.19 removed, with a message that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import model_validator

from fractal_core.types import DictStrAny
from fractal_core.types import NonEmptyStr
from fractal_core.types import TypeFilters

__all__ = [
    "SOURCE_REMOVED_MESSAGE",
    "TaskExport",
    "TaskImport",
    "WorkflowExport",
    "WorkflowImport",
    "WorkflowTaskExport",
    "WorkflowTaskImport",
]

SOURCE_REMOVED_MESSAGE = (
    "Task references by `source` are no longer supported (removed in "
    "fractal-server 2.19.0): reference each task by `pkg_name`, `version` "
    "and `name` instead."
)


class TaskImport(BaseModel):
    """A task reference in a workflow file: package, version and task name.

    ``version`` may be omitted or null, but such a reference never resolves:
    the import fails listing the available versions (upstream 2.19+).
    """

    model_config = ConfigDict(extra="forbid")

    pkg_name: NonEmptyStr
    version: NonEmptyStr | None = None
    name: NonEmptyStr

    @model_validator(mode="before")
    @classmethod
    def _refuse_source(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "source" in data:
            raise ValueError(
                f"{SOURCE_REMOVED_MESSAGE} Given source={data['source']!r}."
            )
        return data


class TaskExport(BaseModel):
    """The task reference written on export; the version is always present."""

    pkg_name: NonEmptyStr
    version: NonEmptyStr
    name: NonEmptyStr


def _convert_legacy_filters(values: dict[str, Any]) -> dict[str, Any]:
    """Turn pre-2.11 ``input_filters`` into ``type_filters`` (reference rules).

    A missing ``attributes`` key counts as ``{}`` (the reference raised a
    ``KeyError`` there, services weak point 16).
    """
    legacy = values.get("input_filters")
    if legacy is None:
        return values
    if "type_filters" in values:
        raise ValueError(
            "Cannot set filters both through the legacy field ('input_filters') "
            "and the new one ('type_filters')."
        )
    if not isinstance(legacy, Mapping):
        raise ValueError(f"`input_filters` must be a dict (given {legacy!r}).")
    if legacy.get("attributes", {}) != {}:
        raise ValueError(
            "Cannot set attribute filters for WorkflowTasks "
            f"(given input_filters.attributes={legacy['attributes']!r})."
        )
    converted = dict(values)
    converted["type_filters"] = legacy.get("types", {})
    converted["input_filters"] = None
    return converted


class WorkflowTaskImport(BaseModel):
    """One entry of a workflow file's ``task_list``."""

    model_config = ConfigDict(extra="forbid")

    meta_non_parallel: DictStrAny | None = None
    meta_parallel: DictStrAny | None = None
    args_non_parallel: DictStrAny | None = None
    args_parallel: DictStrAny | None = None
    type_filters: TypeFilters | None = None
    input_filters: dict[str, Any] | None = None
    description: NonEmptyStr | None = None
    alias: NonEmptyStr | None = None

    task: TaskImport

    @model_validator(mode="before")
    @classmethod
    def _legacy_filters(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return _convert_legacy_filters(dict(data))
        return data


class WorkflowImport(BaseModel):
    """A workflow file as read: 2.17.0 files and 2.19+ files alike."""

    model_config = ConfigDict(extra="forbid")

    name: NonEmptyStr
    description: NonEmptyStr | None = None
    task_list: list[WorkflowTaskImport]


class WorkflowTaskExport(BaseModel):
    """One entry of an exported workflow's ``task_list`` (no ids, no order)."""

    meta_non_parallel: dict[str, Any] | None = None
    meta_parallel: dict[str, Any] | None = None
    args_non_parallel: dict[str, Any] | None = None
    args_parallel: dict[str, Any] | None = None
    type_filters: dict[str, bool] = Field(default_factory=dict)
    description: str | None = None
    alias: str | None = None

    task: TaskExport


class WorkflowExport(BaseModel):
    """An exported workflow, key order as fractal-server 2.19+ writes it."""

    name: str
    description: str | None = None
    task_list: list[WorkflowTaskExport]
