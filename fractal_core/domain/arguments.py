"""Check workflow-task arguments against the task's JSON schemas (`jsonschema`).

The reference leaves this to its web client. Task schemas mark `zarr_url`,
`zarr_urls`, `zarr_dir` and `init_args` as required although the engine fills
them in, so those are dropped from the top-level `required` list before
validating: we check the keys the user gives, plus required keys that the
engine will not supply.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from .errors import ArgumentValidationError
from .task import Task

ENGINE_SUPPLIED_ARGUMENTS = frozenset(
    {"zarr_url", "zarr_urls", "zarr_dir", "init_args"}
)
"""Arguments the engine writes into every call (never given by the user)."""


def user_facing_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `schema` without the engine-supplied keys in top-level `required`."""
    result = copy.deepcopy(dict(schema))
    required = result.get("required")
    if isinstance(required, list):
        result["required"] = [
            key for key in required if key not in ENGINE_SUPPLIED_ARGUMENTS
        ]
    return result


def schema_problems(
    schema: Mapping[str, Any], args: Mapping[str, Any] | None, part: str
) -> list[tuple[str, str, str]]:
    """`(part, path, message)` for every way `args` violates `schema`."""
    prepared = user_facing_schema(schema)
    validator_class = jsonschema.validators.validator_for(
        prepared, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(prepared)
    except SchemaError as error:
        return [(part, "", f"the task's args schema is invalid: {error.message}")]
    validator = validator_class(prepared)
    errors = sorted(
        validator.iter_errors(dict(args or {})),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    return [
        (part, "/".join(str(p) for p in error.absolute_path), error.message)
        for error in errors
    ]


def argument_problems(
    task: Task,
    args_non_parallel: Mapping[str, Any] | None,
    args_parallel: Mapping[str, Any] | None,
) -> list[tuple[str, str, str]]:
    """Problems of both argument parts, for the parts the task type runs.

    A part whose schema is absent is not checked (the manifest gave none).
    """
    problems: list[tuple[str, str, str]] = []
    task_type = task.task_type
    parts = (
        ("non_parallel", task_type.uses_non_parallel, args_non_parallel),
        ("parallel", task_type.uses_parallel, args_parallel),
    )
    for side, used, args in parts:
        schema = getattr(task, f"args_schema_{side}")
        if used and schema is not None:
            problems.extend(schema_problems(schema, args, f"args_{side}"))
    return problems


def validate_arguments(
    task: Task,
    args_non_parallel: Mapping[str, Any] | None = None,
    args_parallel: Mapping[str, Any] | None = None,
) -> None:
    """Raise `ArgumentValidationError` naming the task, part and path on failure."""
    problems = argument_problems(task, args_non_parallel, args_parallel)
    if problems:
        raise ArgumentValidationError(task.name, problems)
