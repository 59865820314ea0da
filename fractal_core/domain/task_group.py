"""Task groups (one installed package and its tasks) and their activities."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import field_validator
from pydantic import model_validator

from ..types import AbsolutePathStr
from ..types import DictStrStr
from ..types import NonEmptyStr
from ..types import is_url_inside
from ..types import normalize_package_name
from ..types import validate_cmd
from ..views import html as views_html
from ..views import text as views_text
from ._time import get_timestamp
from .errors import DuplicateTaskNameError
from .errors import InvalidTaskGroupOperation
from .task import LEGACY_TASK_VERSION
from .task import Task


class TaskGroupOrigin(StrEnum):
    """Where a task group comes from (no `wholesale` origin in 2.17)."""

    PYPI = "pypi"
    WHEELFILE = "wheel-file"
    PIXI = "pixi"
    OTHER = "other"


class TaskGroupActivityStatus(StrEnum):
    """State of one asynchronous operation on a group (note upper-case `OK`)."""

    PENDING = "pending"
    ONGOING = "ongoing"
    FAILED = "failed"
    OK = "OK"


class TaskGroupActivityAction(StrEnum):
    """The lifecycle operations recorded as activities."""

    COLLECT = "collect"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    DELETE = "delete"


# The reference's names, so that Fractal users recognise them.
TaskGroupV2OriginEnum = TaskGroupOrigin
TaskGroupActivityStatusV2 = TaskGroupActivityStatus
TaskGroupActivityActionV2 = TaskGroupActivityAction

_NO_QUOTES_OR_SPACES = set(string.whitespace) | {'"', "'"}


def _check_pin_part(value: str, what: str, allow_char: str | None = None) -> None:
    validate_cmd(value, allow_char=allow_char, attribute_name=what)
    bad = _NO_QUOTES_OR_SPACES.intersection(value)
    if bad:
        raise ValueError(f"{what} must not contain quotes or whitespace: '{value}'.")


def duplicate_names(names: list[str]) -> list[str]:
    """Names occurring more than once, in order of first repetition."""
    return [name for name, count in Counter(names).items() if count > 1]


def check_unique_task_names(tasks: list[Task], where: str = "task group") -> None:
    """Raise `DuplicateTaskNameError` if two tasks share a name (FOLLOW 3.4)."""
    repeated = duplicate_names([task.name for task in tasks])
    if repeated:
        raise DuplicateTaskNameError(repeated, where=where)


class TaskGroup(BaseModel):
    """One package installed in one environment, owning an ordered task list.

    `pkg_name` is normalised (PEP 503) for `pypi`, `wheel-file` and `pixi`
    groups; for `other` groups it is a free label kept as given (stripped), as
    in the reference. Task names are unique within the group.
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    task_list: list[Task] = Field(default_factory=list)

    user_id: int | None = None
    user_group_id: int | None = None
    resource_id: int | None = None

    origin: TaskGroupOrigin
    pkg_name: NonEmptyStr
    version: NonEmptyStr = LEGACY_TASK_VERSION
    python_version: NonEmptyStr | None = None
    pixi_version: NonEmptyStr | None = None
    path: AbsolutePathStr | None = None
    venv_path: AbsolutePathStr | None = None
    archive_path: AbsolutePathStr | None = None
    pip_extras: NonEmptyStr | None = None
    pinned_package_versions_pre: DictStrStr = Field(default_factory=dict)
    pinned_package_versions_post: DictStrStr = Field(default_factory=dict)
    env_info: str | None = None

    active: bool = True
    timestamp_created: AwareDatetime = Field(default_factory=get_timestamp)
    timestamp_last_used: AwareDatetime = Field(default_factory=get_timestamp)

    @field_validator("version", mode="before")
    @classmethod
    def _version_none_is_legacy(cls, value: Any) -> Any:
        return LEGACY_TASK_VERSION if value is None else value

    @field_validator(
        "pinned_package_versions_pre", "pinned_package_versions_post", mode="before"
    )
    @classmethod
    def _pins_none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("pip_extras")
    @classmethod
    def _safe_extras(cls, value: str | None) -> str | None:
        if value is not None:
            _check_pin_part(value, "pip_extras")
        return value

    @field_validator("pinned_package_versions_pre", "pinned_package_versions_post")
    @classmethod
    def _safe_pins(cls, value: dict[str, str]) -> dict[str, str]:
        for name, version in value.items():
            # Extras are allowed in pinned names, e.g. `dask[distributed]` (FOLLOW 8.5)
            _check_pin_part(name, "Pinned package name", allow_char="[]")
            _check_pin_part(version, "Pinned package version")
        return value

    @model_validator(mode="after")
    def _normalise_and_check(self) -> TaskGroup:
        if self.origin != TaskGroupOrigin.OTHER:
            self.pkg_name = normalize_package_name(self.pkg_name)
        check_unique_task_names(self.task_list)
        if self.id is not None:
            # Copies, so that the caller's Task objects are not modified.
            self.task_list = [
                task
                if task.taskgroupv2_id is not None
                else task.model_copy(update={"taskgroupv2_id": self.id})
                for task in self.task_list
            ]
        else:
            self._adopt_tasks()
        return self

    def _adopt_tasks(self, *, own_copy: bool = False) -> None:
        """Link every task of `task_list` to this group.

        A task another group holds is copied first, so that a task belongs
        to one group at most; after copying a group (`own_copy`), the copied
        tasks are re-linked in place.
        """
        adopted = []
        for task in self.task_list:
            holder = task.task_group
            if holder is not None and holder is not self and not own_copy:
                task = task.model_copy()
            task._link_to(self)
            adopted.append(task)
        # Bypass __setattr__: the list is already adopted.
        self.__dict__["task_list"] = adopted

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "task_list":
            self._adopt_tasks()

    def __copy__(self) -> TaskGroup:
        copied = super().__copy__()
        copied.__dict__["task_list"] = list(self.task_list)
        copied._adopt_tasks()  # the tasks stay with `self`; the copy gets copies
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> TaskGroup:
        copied = super().__deepcopy__(memo)
        copied._adopt_tasks(own_copy=True)
        return copied

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> TaskGroup:
        """As `BaseModel.model_copy`; the copy's tasks are linked to the copy."""
        copied = super().model_copy(update=update, deep=deep)
        copied._adopt_tasks()
        return copied

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        for task in self.task_list:
            # Unpickling a Task first reaches its group while the task is not
            # restored yet; its own state then brings its link back.
            if getattr(task, "__pydantic_private__", None) is not None:
                task._link_to(self)

    def set_task_list(self, tasks: list[Task]) -> None:
        """Replace the task list (names must be unique); tasks get this group's id."""
        check_unique_task_names(tasks)
        self.task_list = [
            task.model_copy(update={"taskgroupv2_id": self.id}) for task in tasks
        ]

    def get_task(self, name: str) -> Task:
        """The task called `name`; `KeyError` naming the group if absent."""
        for task in self.task_list:
            if task.name == name:
                return task
        raise KeyError(
            f"Task group '{self.pkg_name}' (version {self.version}) has no task "
            f"named '{name}'."
        )

    def _check_not_pixi(self, what: str) -> None:
        if self.origin == TaskGroupOrigin.PIXI:
            raise InvalidTaskGroupOperation(
                f"Cannot call '{what}' if origin='{self.origin}'."
            )

    def pip_install_string(self) -> str:
        """The requirement given to `pip install`: archive path or `name==version`."""
        self._check_not_pixi("pip_install_string")
        extras = f"[{self.pip_extras}]" if self.pip_extras is not None else ""
        if self.archive_path is not None:
            return f"{self.archive_path}{extras}"
        return f"{self.pkg_name}{extras}=={self.version}"

    def pinned_requirements(self, when: str) -> list[str]:
        """Pins installed `pre` (before) or `post` (after) the package, as argv."""
        self._check_not_pixi(f"pinned_package_versions_{when}")
        if when not in ("pre", "post"):
            raise ValueError(f"`when` must be 'pre' or 'post' (given '{when}').")
        pins = getattr(self, f"pinned_package_versions_{when}")
        return [f"{name}=={version}" for name, version in pins.items()]

    def pinned_package_versions_pre_string(self) -> str:
        """Pre-install pins as `"a==1" "b[x]==2"` (quoted, FOLLOW 8.5), or `""`."""
        return " ".join(f'"{req}"' for req in self.pinned_requirements("pre"))

    def pinned_package_versions_post_string(self) -> str:
        """Post-install pins, quoted like the pre-install ones; `""` if none."""
        return " ".join(f'"{req}"' for req in self.pinned_requirements("post"))

    def check_path_under(self, base_dir: str) -> None:
        """Refuse a group folder that is not strictly inside `base_dir` (FOLLOW 8.8)."""
        if self.path is not None and not is_url_inside(self.path, base_dir):
            raise InvalidTaskGroupOperation(
                f"Task-group path '{self.path}' is not inside the tasks base "
                f"folder '{base_dir}'."
            )

    def missing_for_pip_collection(self) -> list[str]:
        """Fields the strict (pip/wheel collection) variant requires but lacks."""
        required = ("path", "venv_path", "python_version")
        return [name for name in required if getattr(self, name) is None]

    def __repr__(self) -> str:
        return views_text.task_group_repr(self)

    # print() shows the short form too (pydantic's str lists every field).
    __str__ = __repr__

    def _repr_html_(self) -> str:
        return views_html.task_group_html(self)


class TaskGroupActivity(BaseModel):
    """One asynchronous operation on a task group: pending → ongoing → OK/failed."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    user_id: int | None = None
    taskgroupv2_id: int | None = None
    timestamp_started: AwareDatetime = Field(default_factory=get_timestamp)
    pkg_name: str
    version: str | None = None
    status: TaskGroupActivityStatus
    action: TaskGroupActivityAction
    log: str | None = None
    timestamp_ended: AwareDatetime | None = None

    def mark_ongoing(self) -> None:
        """The background operation started."""
        self.status = TaskGroupActivityStatus.ONGOING

    def finish(
        self, ok: bool, log: str | None = None, at: datetime | None = None
    ) -> None:
        """Set the final status, the end timestamp and (if given) the log."""
        self.status = (
            TaskGroupActivityStatus.OK if ok else TaskGroupActivityStatus.FAILED
        )
        self.timestamp_ended = at or get_timestamp()
        if log is not None:
            self.log = log

    @property
    def is_finished(self) -> bool:
        """True once the activity reached OK or failed."""
        return self.status in (
            TaskGroupActivityStatus.OK,
            TaskGroupActivityStatus.FAILED,
        )
