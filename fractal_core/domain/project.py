"""Projects: the container of datasets, workflows and jobs."""

from __future__ import annotations

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from ..types import SafeNonEmptyStr
from ._time import get_timestamp


class Project(BaseModel):
    """A project; ownership is kept as plain ids (no users in the library).

    `name` uses the 2.19+ safe alphabet (letters, digits, `_`, `.`, space, `-`),
    since it becomes part of default folder names.
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    name: SafeNonEmptyStr
    resource_id: int | None = None
    user_ids: list[int] = Field(default_factory=list)
    timestamp_created: AwareDatetime = Field(default_factory=get_timestamp)
