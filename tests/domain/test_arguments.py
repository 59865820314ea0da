"""Argument checks with real JSON schemas (pydantic-generated, with `$defs`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic import Field

from fractal_core.domain import ArgumentValidationError
from fractal_core.domain import Task
from fractal_core.domain import TaskType
from fractal_core.domain import Workflow
from fractal_core.domain import validate_arguments
from fractal_core.domain.arguments import user_facing_schema
from fractal_core.manifest import load_manifest

TESTKIT = (
    Path(__file__).parents[1]
    / "task_packages/fractal_tasks_testkit/src/fractal_tasks_testkit"
)


class Channel(BaseModel):
    label: str
    wavelength_id: str | None = None


class InitArgs(BaseModel):
    zarr_urls: list[str]
    zarr_dir: str
    channels: list[Channel]
    overwrite: bool = False
    level: int = Field(default=0, ge=0)


def compound_task() -> Task:
    schema = InitArgs.model_json_schema()
    assert "$defs" in schema and "zarr_urls" in schema["required"]
    return Task(
        name="illumination",
        type="compound",
        command_non_parallel="python init.py",
        command_parallel="python compute.py",
        args_schema_non_parallel=schema,
        args_schema_parallel={
            "type": "object",
            "properties": {
                "zarr_url": {"type": "string"},
                "init_args": {"type": "object"},
            },
            "required": ["zarr_url", "init_args"],
            "additionalProperties": False,
        },
    )


def test_engine_keys_dropped_from_required_only() -> None:
    schema = InitArgs.model_json_schema()
    prepared = user_facing_schema(schema)
    assert prepared["required"] == ["channels"]
    assert "zarr_dir" in prepared["properties"]
    assert schema["required"] == ["zarr_urls", "zarr_dir", "channels"]  # not mutated


def test_refs_resolved_and_paths_reported() -> None:
    task = compound_task()
    validate_arguments(task, {"channels": [{"label": "DAPI"}]}, None)
    with pytest.raises(ArgumentValidationError) as info:
        validate_arguments(
            task, {"channels": [{"wavelength_id": "A01_C01"}], "level": -2}, {"x": 1}
        )
    found = {(part, path) for part, path, _ in info.value.problems}
    assert found == {
        ("args_non_parallel", "channels/0"),
        ("args_non_parallel", "level"),
        ("args_parallel", ""),
    }
    assert "'label' is a required property" in str(info.value)


def test_missing_required_user_argument_when_args_absent() -> None:
    with pytest.raises(ArgumentValidationError, match="'channels' is a required"):
        Workflow(name="w").append_task(compound_task())


def test_side_without_schema_not_checked() -> None:
    task = Task(name="free", command_parallel="p")
    validate_arguments(task, None, {"anything": {"goes": [1, 2]}})


def test_repository_testkit_manifest_builds_all_types() -> None:
    manifest = load_manifest(TESTKIT)
    tasks = manifest.to_tasks("/venv/bin/python", TESTKIT, "0.1.0", strict=True)
    assert {task.type for task in tasks} == set(TaskType)
    assert all(task.authors == "fractal_core developers" for task in tasks)
    assert all(
        cmd.startswith("/venv/bin/python " + TESTKIT.as_posix())
        for task in tasks
        for cmd in (task.command_parallel, task.command_non_parallel)
        if cmd
    )
    workflow = Workflow(name="all types")
    for task in tasks:
        workflow.append_task(task)
    assert [w.order for w in workflow.task_list] == list(range(len(tasks)))
