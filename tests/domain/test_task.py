"""Task domain object: creation rules, type derivation, consistency, updates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core.domain import InvalidTaskError
from fractal_core.domain import InvalidTaskUpdateError
from fractal_core.domain import Task
from fractal_core.domain import TaskType
from fractal_core.domain import TaskUpdate


def test_type_derived_from_commands() -> None:
    assert Task(name="a", command_parallel="python p.py").type == TaskType.PARALLEL
    assert (
        Task(name="a", command_non_parallel="python n.py").type == TaskType.NON_PARALLEL
    )
    both = Task(name="a", command_parallel="p", command_non_parallel="n")
    assert both.type == TaskType.COMPOUND
    explicit = Task(name="a", command_non_parallel="n", type="converter_non_parallel")
    assert explicit.type == TaskType.CONVERTER_NON_PARALLEL
    assert explicit.task_type.is_converter


def test_at_least_one_command() -> None:
    with pytest.raises(ValidationError, match="at least one valid command"):
        Task(name="a")


@pytest.mark.parametrize("bad", ["python x.py; rm -rf /", "a | b", "$(x)", "a&b"])
def test_commands_refuse_shell_characters(bad: str) -> None:
    with pytest.raises(ValidationError, match="command_parallel"):
        Task(name="a", command_parallel=bad)


def test_field_rules() -> None:
    task = Task(
        name="  a  ",
        command_parallel="p",
        input_types={" x ": True},
        tags=[" t1", "t2 "],
        meta_parallel=None,
        version=None,
    )
    assert task.name == "a"
    assert task.input_types == {"x": True}
    assert task.tags == ["t1", "t2"]
    assert task.meta_parallel == {}
    assert task.version == "0"  # legacy null version
    for bad in (
        {"name": "   "},
        {"tags": ["a", "a "]},
        {"tags": [""]},
        {"category": ""},
        {"docs_link": "ftp://x.org"},
        {"input_types": {"a": True, " a": False}},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            Task.model_validate({"name": "a", "command_parallel": "p"} | bad)


def test_consistency_problems() -> None:
    ok = Task(
        name="a",
        command_parallel="p",
        command_non_parallel="n",
        type="converter_compound",
    )
    assert ok.consistency_problems() == []
    ok.check_consistency()
    bad = Task(
        name="a",
        command_parallel="p",
        type="non_parallel",
        meta_parallel={"cpus_per_task": 1},
    )
    problems = bad.consistency_problems()
    assert any("needs `command_non_parallel`" in p for p in problems)
    assert any("does not use `command_parallel`" in p for p in problems)
    assert any("meta_parallel" in p for p in problems)
    with pytest.raises(InvalidTaskError, match="'a'"):
        bad.check_consistency()


def test_update_absent_but_not_null() -> None:
    for field in ("command_parallel", "input_types", "output_types", "tags"):
        with pytest.raises(ValidationError, match=field):
            TaskUpdate.model_validate({field: None})
    cleared = TaskUpdate(category=None)
    assert cleared.model_fields_set == {"category"}
    with pytest.raises(ValidationError):
        TaskUpdate(name="x")  # not updatable
    with pytest.raises(ValidationError):
        TaskUpdate(command_parallel="a;b")  # validated on update too


def test_apply_update() -> None:
    task = Task(name="a", command_parallel="p", category="Old", input_types={"x": True})
    updated = task.apply_update(TaskUpdate(category=None, command_parallel="q"))
    assert updated.category is None
    assert updated.command_parallel == "q"
    assert updated.input_types == {"x": True}
    assert task.command_parallel == "p"  # original untouched
    with pytest.raises(InvalidTaskUpdateError, match="command_non_parallel"):
        task.apply_update(TaskUpdate(command_non_parallel="n"))
    converter = Task(name="c", command_non_parallel="n", type="converter_non_parallel")
    with pytest.raises(InvalidTaskUpdateError, match="command_parallel"):
        converter.apply_update(TaskUpdate(command_parallel="p"))
