"""Tasks: the five task types and the `Task` domain object (no database needed).

A `Task` applies the reference's creation rules (`TaskCreateV2`): stripped
non-empty name, at least one command, commands free of shell metacharacters,
unique non-empty tags, http(s) docs link, type derived from the commands when
absent. Ids are optional and assigned later by a repository.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import PrivateAttr
from pydantic import field_validator
from pydantic import model_validator

from ..types import DictStrAny
from ..types import HttpUrlStr
from ..types import ListUniqueNonEmptyString
from ..types import NonEmptyStr
from ..types import TypeFilters
from ..types import validate_cmd
from ..views import text as views_text
from .errors import InvalidTaskError
from .errors import InvalidTaskUpdateError

if TYPE_CHECKING:
    from .task_group import TaskGroup

logger = logging.getLogger(__name__)

LEGACY_TASK_VERSION = "0"
"""Version given to tasks read without one (newer servers migrated nulls to "0")."""


class TaskType(StrEnum):
    """How a task is called: which commands run and which images it receives."""

    COMPOUND = "compound"
    CONVERTER_COMPOUND = "converter_compound"
    NON_PARALLEL = "non_parallel"
    CONVERTER_NON_PARALLEL = "converter_non_parallel"
    PARALLEL = "parallel"

    @property
    def uses_non_parallel(self) -> bool:
        """True if a task of this type runs `command_non_parallel`."""
        return self is not TaskType.PARALLEL

    @property
    def uses_parallel(self) -> bool:
        """True if a task of this type runs `command_parallel`."""
        return self in _PARALLEL_TYPES

    @property
    def is_converter(self) -> bool:
        """True for converter types (they receive no input images)."""
        return self in (TaskType.CONVERTER_NON_PARALLEL, TaskType.CONVERTER_COMPOUND)


_PARALLEL_TYPES = frozenset(
    {TaskType.PARALLEL, TaskType.COMPOUND, TaskType.CONVERTER_COMPOUND}
)


def derive_task_type(
    command_non_parallel: str | None, command_parallel: str | None
) -> TaskType:
    """The reference's fallback type when none is stated (never a converter)."""
    if command_non_parallel is None:
        return TaskType.PARALLEL
    if command_parallel is None:
        return TaskType.NON_PARALLEL
    return TaskType.COMPOUND


def _legacy_version(value: Any) -> Any:
    return LEGACY_TASK_VERSION if value is None else value


class GroupLink:
    """A task's link to its `TaskGroup`: never dumped, invisible to equality.

    All links compare equal, so `Task.__eq__` (which compares private
    attributes) stays field equality and never recurses into groups. Copies
    of a task keep pointing to the same group (a deep copy does not copy the
    group); `TaskGroup` re-links the tasks of its own copies.
    """

    __slots__ = ("group",)

    def __init__(self, group: TaskGroup | None = None) -> None:
        self.group = group

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GroupLink)

    def __hash__(self) -> int:
        return 0

    def __copy__(self) -> GroupLink:
        return GroupLink(self.group)

    def __deepcopy__(self, memo: dict[int, Any]) -> GroupLink:
        return GroupLink(self.group)

    def __repr__(self) -> str:
        group = self.group
        return "GroupLink(None)" if group is None else f"GroupLink({group.pkg_name})"

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__


class Task(BaseModel):
    """One task of a task group, with the reference's field names.

    A task put in a `TaskGroup` knows it (`task_group`, `package`,
    `is_active`); the link is not a field: never dumped nor compared.
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    name: NonEmptyStr
    type: TaskType | None = None

    command_non_parallel: NonEmptyStr | None = None
    command_parallel: NonEmptyStr | None = None

    meta_non_parallel: DictStrAny = Field(default_factory=dict)
    meta_parallel: DictStrAny = Field(default_factory=dict)

    version: NonEmptyStr = LEGACY_TASK_VERSION
    args_schema_non_parallel: DictStrAny | None = None
    args_schema_parallel: DictStrAny | None = None
    args_schema_version: NonEmptyStr | None = None
    docs_info: str | None = None
    docs_link: HttpUrlStr | None = None

    input_types: TypeFilters = Field(default_factory=dict)
    output_types: TypeFilters = Field(default_factory=dict)

    category: NonEmptyStr | None = None
    modality: NonEmptyStr | None = None
    tags: ListUniqueNonEmptyString = Field(default_factory=list)
    authors: NonEmptyStr | None = None
    is_core: bool = False

    taskgroupv2_id: int | None = None

    _group_link: GroupLink = PrivateAttr(default_factory=GroupLink)

    @property
    def task_group(self) -> TaskGroup | None:
        """The group holding this task, None for a task outside any group."""
        return self._group_link.group

    @property
    def package(self) -> tuple[str | None, str | None]:
        """`(pkg_name, version)` of the group, else `(None, own version)`."""
        group = self._group_link.group
        if group is None:
            return (None, self.version)
        return (group.pkg_name, group.version)

    @property
    def is_active(self) -> bool:
        """The group's `active` flag; True for a task outside any group."""
        group = self._group_link.group
        return True if group is None else group.active

    def _link_to(self, group: TaskGroup | None) -> None:
        """Set the group (called by `TaskGroup` only)."""
        self._group_link = GroupLink(group)

    @field_validator("meta_non_parallel", "meta_parallel", mode="before")
    @classmethod
    def _meta_none_is_empty(cls, value: Any) -> Any:
        # The reference stores a missing meta as `{}` (non-null column).
        return {} if value is None else value

    @field_validator("version", mode="before")
    @classmethod
    def _version_none_is_legacy(cls, value: Any) -> Any:
        return _legacy_version(value)

    @model_validator(mode="after")
    def _validate_commands(self) -> Task:
        if self.command_parallel is None and self.command_non_parallel is None:
            raise ValueError(
                "Task must have at least one valid command "
                f"(parallel and/or non_parallel); task name='{self.name}'."
            )
        for attr in ("command_non_parallel", "command_parallel"):
            command = getattr(self, attr)
            if command is not None:
                validate_cmd(command, attribute_name=attr)
        return self

    @model_validator(mode="after")
    def _set_task_type(self) -> Task:
        if self.type is None:
            logger.warning(
                "Task type is not set for task '%s'; deriving it from its commands "
                "(deprecated: state `type` in the manifest).",
                self.name,
            )
            self.type = derive_task_type(
                self.command_non_parallel, self.command_parallel
            )
        return self

    @property
    def task_type(self) -> TaskType:
        """The (always set) task type, typed without `None`."""
        assert self.type is not None  # set by the model validator
        return self.type

    def consistency_problems(self) -> list[str]:
        """Contradictions between the type and the commands/meta/schemas.

        The reference never checks these (weak points 12-13); callers may log
        them or refuse the task with `check_consistency`.
        """
        problems: list[str] = []
        task_type = self.task_type
        for part, used in (
            ("non_parallel", task_type.uses_non_parallel),
            ("parallel", task_type.uses_parallel),
        ):
            command = getattr(self, f"command_{part}")
            if used and command is None:
                problems.append(f"type '{task_type}' needs `command_{part}`")
            if not used:
                if command is not None:
                    problems.append(f"type '{task_type}' does not use `command_{part}`")
                if getattr(self, f"meta_{part}"):
                    problems.append(f"type '{task_type}' cannot have `meta_{part}`")
                if getattr(self, f"args_schema_{part}") is not None:
                    problems.append(
                        f"type '{task_type}' cannot have `args_schema_{part}`"
                    )
        return problems

    def check_consistency(self) -> None:
        """Raise `InvalidTaskError` listing every consistency problem, if any."""
        problems = self.consistency_problems()
        if problems:
            raise InvalidTaskError(
                f"Task '{self.name}' is inconsistent: " + "; ".join(problems) + "."
            )

    def apply_update(self, update: TaskUpdate) -> Task:
        """Return a copy with the explicitly-given fields of `update` applied.

        A command can be set only if the task type uses it (the reference only
        guards `parallel` / `non_parallel`; we derive the rule from the type).
        """
        changes = update.model_dump(exclude_unset=True)
        task_type = self.task_type
        for part, used in (
            ("parallel", task_type.uses_parallel),
            ("non_parallel", task_type.uses_non_parallel),
        ):
            if f"command_{part}" in changes and not used:
                raise InvalidTaskUpdateError(
                    f"Cannot set an unset `command_{part}` on task '{self.name}' "
                    f"of type '{task_type}'."
                )
        return Task.model_validate(self.model_dump() | changes)

    def __repr__(self) -> str:
        return views_text.task_repr(self)

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__


_NOT_NULL_ON_UPDATE = (
    "command_parallel",
    "command_non_parallel",
    "input_types",
    "output_types",
    "tags",
)


class TaskUpdate(BaseModel):
    """The fields of a task a user may change (`TaskUpdateV2`).

    Only explicitly-given fields are applied. `category`, `modality` and `authors`
    may be set to `None` (cleared); the commands, types and `tags` may be
    omitted but not set to `None`.
    """

    model_config = ConfigDict(extra="forbid")

    command_parallel: NonEmptyStr | None = None
    command_non_parallel: NonEmptyStr | None = None
    input_types: TypeFilters | None = None
    output_types: TypeFilters | None = None
    category: NonEmptyStr | None = None
    modality: NonEmptyStr | None = None
    authors: NonEmptyStr | None = None
    tags: ListUniqueNonEmptyString | None = None

    @model_validator(mode="after")
    def _absent_but_not_null(self) -> TaskUpdate:
        for name in _NOT_NULL_ON_UPDATE:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"`{name}` may be omitted but cannot be null.")
        for name in ("command_parallel", "command_non_parallel"):
            command = getattr(self, name)
            if command is not None:
                validate_cmd(command, attribute_name=name)
        return self
