"""Manifest v2 (`__FRACTAL_MANIFEST__.json`): models, rules and conversion to tasks.

Unknown keys are ignored, as in the reference. Errors raised by the model
validators carry the task index/name and the field in their pydantic context,
so that `load_manifest` can report them precisely.
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from pathlib import PurePosixPath
from typing import Any
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import ValidationError
from pydantic import field_validator
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from ..domain.task import Task
from ..domain.task import TaskType
from ..domain.task_group import duplicate_names
from ..types import DictStrAny
from ..types import HttpUrlStr
from ..types import NonEmptyStr
from ..types import validate_cmd
from ..types.strings import has_dotdot_component
from ..types.urls import val_no_control_characters
from .errors import ManifestError
from .errors import ManifestProblem
from .errors import problems_from_validation_error

logger = logging.getLogger(__name__)

MANIFEST_FILENAME = "__FRACTAL_MANIFEST__.json"


def _task_error(message: str, *, field: str, **ctx: Any) -> PydanticCustomError:
    """A validation error whose context names the offending field (and task)."""
    return PydanticCustomError(
        "manifest", "{message}", {"message": message, "field": field, **ctx}
    )


def _stripped_name_clashes(tasks: list[Task]) -> list[ManifestProblem]:
    """Names equal only after stripping (e.g. "a" and "a ") still clash in a group."""
    repeated = set(duplicate_names([task.name for task in tasks]))
    seen: set[str] = set()
    problems = []
    for task in tasks:
        if task.name in repeated and task.name in seen:
            problems.append(
                ManifestProblem(
                    "Task names must be unique within a task group.",
                    field="name",
                    task_name=task.name,
                )
            )
        seen.add(task.name)
    return problems


def task_command(python: PurePosixPath, executable: PurePosixPath) -> str:
    """`python executable` as a stored command that `shlex.split` reads back.

    Each path is quoted only when needed (`shlex.join`), so plain paths give
    the reference's `f"{python} {executable}"` and a folder with a space still
    runs the right file. Characters that `validate_cmd` refuses in commands
    (`$`, `(`, `;`...) cannot be quoted away: `CommandPathError` names them.
    """
    for what, path in (("python executable", python), ("executable", executable)):
        try:
            validate_cmd(str(path), attribute_name=f"Path of the {what}")
        except ValueError as error:
            raise CommandPathError(str(error)) from None
    return shlex.join([str(python), str(executable)])


class CommandPathError(ValueError):
    """A path that cannot appear in a stored task command (see `task_command`)."""


class TaskManifestV2(BaseModel):
    """One task entry of a manifest; executables are relative to the package root."""

    name: str
    executable_non_parallel: str | None = None
    executable_parallel: str | None = None
    input_types: dict[str, bool] = Field(default_factory=dict)
    output_types: dict[str, bool] = Field(default_factory=dict)
    meta_non_parallel: DictStrAny = Field(default_factory=dict)
    meta_parallel: DictStrAny = Field(default_factory=dict)
    args_schema_non_parallel: DictStrAny | None = None
    args_schema_parallel: DictStrAny | None = None
    docs_info: str | None = None
    docs_link: HttpUrlStr | None = None
    category: str | None = None
    modality: str | None = None
    tags: list[str] = Field(default_factory=list)
    type: TaskType | None = None

    @field_validator("executable_non_parallel", "executable_parallel")
    @classmethod
    def _executable_inside_package(cls, value: str | None) -> str | None:
        """An executable is a path inside the package: relative, without `..`."""
        if value is None:
            return value
        val_no_control_characters(value, "executable")
        if value.startswith("/"):
            raise ValueError(
                f"executable must be relative to the package root (given {value!r})."
            )
        if has_dotdot_component(value):
            raise ValueError(
                f"executable must not contain a '..' component (given {value!r})."
            )
        return value

    @model_validator(mode="after")
    def validate_executable_args_meta(self) -> TaskManifestV2:
        """An absent executable forbids the meta and args schema of its side."""
        if self.executable_non_parallel is None and self.executable_parallel is None:
            raise _task_error(
                "`TaskManifestV2.executable_non_parallel` and "
                "`TaskManifestV2.executable_parallel` cannot be both None.",
                field="executable_non_parallel/executable_parallel",
            )
        for side in ("non_parallel", "parallel"):
            if getattr(self, f"executable_{side}") is not None:
                continue
            meta = getattr(self, f"meta_{side}")
            if meta != {}:
                raise _task_error(
                    f"`TaskManifestV2.meta_{side}` must be an empty dict if "
                    f"`TaskManifestV2.executable_{side}` is None. Given: {meta}.",
                    field=f"meta_{side}",
                )
            schema = getattr(self, f"args_schema_{side}")
            if schema is not None:
                raise _task_error(
                    f"`TaskManifestV2.args_schema_{side}` must be None if "
                    f"`TaskManifestV2.executable_{side}` is None. Given: {schema}.",
                    field=f"args_schema_{side}",
                )
        return self


class ManifestV2(BaseModel):
    """A task package's manifest, version "2" (the string, not the integer)."""

    manifest_version: Literal["2"]
    task_list: list[TaskManifestV2]
    has_args_schemas: bool = False
    args_schema_version: str | None = None
    authors: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _check_args_schemas_are_present(self) -> ManifestV2:
        if not self.has_args_schemas:
            return self
        for index, task in enumerate(self.task_list):
            for side in ("parallel", "non_parallel"):
                executable = getattr(task, f"executable_{side}")
                schema = getattr(task, f"args_schema_{side}")
                if executable is not None and schema is None:
                    raise _task_error(
                        # The reference's wording (its `{task.args_schema_x=}`).
                        f"Manifest has has_args_schemas=True, but task "
                        f"'{task.name}' has task.args_schema_{side}=None.",
                        field=f"args_schema_{side}",
                        task_index=index,
                        task_name=task.name,
                    )
        return self

    @model_validator(mode="after")
    def _unique_task_names(self) -> ManifestV2:
        names = [task.name for task in self.task_list]
        repeated = duplicate_names(names)
        if repeated:
            first = repeated[0]
            second_index = [i for i, name in enumerate(names) if name == first][1]
            raise _task_error(
                "Task names in manifest must be unique; repeated: "
                + ", ".join(repr(name) for name in repeated)
                + ".",
                field="name",
                task_index=second_index,
                task_name=first,
            )
        return self

    def to_tasks(
        self,
        python_executable: str | Path,
        package_root: str | Path,
        package_version: str | None = None,
        *,
        strict: bool = False,
    ) -> list[Task]:
        """Build the `Task` objects of this package, in manifest order.

        Commands are `<python_executable> <package_root>/<executable>` (the
        reference's form). This is also the dry-run validation to run before
        installing anything: tags, category, names and commands are checked
        here with the task rules, and every failure is reported at once as a
        `ManifestError` naming the task and the field. With `strict`, a type
        that contradicts the executables is an error too (weak point 12).
        """
        python = PurePosixPath(Path(python_executable).as_posix())
        root = PurePosixPath(Path(package_root).as_posix())
        tasks: list[Task] = []
        problems: list[ManifestProblem] = []
        if self.has_args_schemas and not (self.args_schema_version or "").strip():
            # The reference fails on this only when it builds the tasks.
            problems.append(
                ManifestProblem(
                    message="has_args_schemas=True requires a non-empty label.",
                    field="args_schema_version",
                )
            )
        for index, entry in enumerate(self.task_list):
            try:
                attributes = self._task_attributes(entry, python, root, package_version)
            except CommandPathError as error:
                problems.append(
                    ManifestProblem(
                        message=str(error),
                        field="command",
                        task_index=index,
                        task_name=entry.name,
                    )
                )
                continue
            try:
                task = Task.model_validate(attributes)
            except ValidationError as error:
                problems.extend(
                    problems_from_validation_error(
                        error, attributes, task_index=index, task_name=entry.name
                    )
                )
                continue
            if strict:
                for message in task.consistency_problems():
                    problems.append(
                        ManifestProblem(
                            message=message,
                            field="type",
                            task_index=index,
                            task_name=entry.name,
                        )
                    )
            tasks.append(task)
        problems.extend(_stripped_name_clashes(tasks))
        if problems:
            raise ManifestError(problems)
        return tasks

    def _task_attributes(
        self,
        entry: TaskManifestV2,
        python: PurePosixPath,
        root: PurePosixPath,
        package_version: str | None,
    ) -> dict[str, Any]:
        attributes = entry.model_dump(
            exclude={"executable_non_parallel", "executable_parallel"}
        )
        if package_version is not None:
            attributes["version"] = package_version
        if self.has_args_schemas:
            # As in the reference: a missing label makes the task invalid here.
            attributes["args_schema_version"] = self.args_schema_version
        attributes["authors"] = self.authors
        for side in ("non_parallel", "parallel"):
            executable = getattr(entry, f"executable_{side}")
            if executable is not None:
                attributes[f"command_{side}"] = task_command(python, root / executable)
        return attributes
