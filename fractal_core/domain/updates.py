"""Update requests for projects, datasets and workflows ("absent" vs "null").

Each update applies only the fields given explicitly. A name may be omitted
but not set to `None` (the reference pins this); `Workflow.description` may
be cleared with `None`. Values are validated by the update model; applying
returns a copy and never mutates the original.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import model_validator

from ..types import ListUniqueNonNegativeInt
from ..types import NonEmptyStr
from ..types import SafeNonEmptyStr
from .dataset import Dataset
from .project import Project
from .workflow import Workflow


class _Update(BaseModel):
    """Base: refuse `None` for the fields listed in `_not_null`."""

    model_config = ConfigDict(extra="forbid")
    _not_null: tuple[str, ...] = ("name",)

    @model_validator(mode="after")
    def _absent_but_not_null(self) -> _Update:
        for name in self._not_null:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"`{name}` may be omitted but cannot be null.")
        return self

    def changes(self) -> dict[str, Any]:
        """The explicitly-given fields."""
        return self.model_dump(exclude_unset=True)


class ProjectUpdate(_Update):
    """Rename a project."""

    name: SafeNonEmptyStr | None = None

    def apply(self, project: Project) -> Project:
        """A renamed copy of `project`."""
        return project.model_copy(update=self.changes())


class DatasetUpdate(_Update):
    """Rename a dataset (`zarr_dir` is not patchable since 2.18)."""

    name: SafeNonEmptyStr | None = None

    def apply(self, dataset: Dataset) -> Dataset:
        """A renamed copy of `dataset` (same images)."""
        return dataset.model_copy(update=self.changes())


class WorkflowUpdate(_Update):
    """Rename, describe or reorder a workflow (atomically)."""

    name: NonEmptyStr | None = None
    description: NonEmptyStr | None = None
    reordered_workflowtask_ids: ListUniqueNonNegativeInt | None = None

    def apply(self, workflow: Workflow) -> Workflow:
        """An updated deep copy; the original is untouched if anything fails."""
        changes = self.changes()
        order = changes.pop("reordered_workflowtask_ids", None)
        updated = workflow.model_copy(deep=True)
        if order is not None:
            updated.reorder(order)
        return updated.model_copy(update=changes)
