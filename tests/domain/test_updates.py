"""Update requests: only given fields apply; names may be absent but not null."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core.domain import Dataset
from fractal_core.domain import DatasetUpdate
from fractal_core.domain import Project
from fractal_core.domain import ProjectUpdate
from fractal_core.domain import Task
from fractal_core.domain import Workflow
from fractal_core.domain import WorkflowEditError
from fractal_core.domain import WorkflowTask
from fractal_core.domain import WorkflowUpdate


@pytest.mark.parametrize("model", [ProjectUpdate, DatasetUpdate, WorkflowUpdate])
def test_name_absent_but_not_null(model: type) -> None:
    assert model().changes() == {}
    with pytest.raises(ValidationError, match="cannot be null"):
        model(name=None)
    with pytest.raises(ValidationError):
        model(name="  ")
    with pytest.raises(ValidationError):
        model(zarr_dir="/x")  # never patchable (extra fields forbidden)


def test_project_and_dataset_rename() -> None:
    project = Project(id=1, name="old")
    assert ProjectUpdate(name=" new ").apply(project).name == "new"
    assert project.name == "old"
    dataset = Dataset(name="d", zarr_dir="/z", images=[{"zarr_url": "/z/a"}])
    renamed = DatasetUpdate(name="e").apply(dataset)
    assert renamed.name == "e" and renamed.images.zarr_urls() == ["/z/a"]
    with pytest.raises(ValidationError):
        DatasetUpdate(name="bad/name")


def test_workflow_update_atomic() -> None:
    tasks = [Task(name=n, command_parallel="p") for n in "ab"]
    workflow = Workflow(
        name="w",
        description="d",
        task_list=[WorkflowTask(id=i, task=t) for i, t in enumerate(tasks)],
    )
    updated = WorkflowUpdate(
        name="w2", description=None, reordered_workflowtask_ids=[1, 0]
    ).apply(workflow)
    assert updated.name == "w2" and updated.description is None
    assert [w.task.name for w in updated.task_list] == ["b", "a"]
    assert [w.order for w in updated.task_list] == [0, 1]
    assert [w.task.name for w in workflow.task_list] == ["a", "b"]
    with pytest.raises(ValidationError, match="repetitions"):
        WorkflowUpdate(reordered_workflowtask_ids=[0, 0])
    with pytest.raises(WorkflowEditError):
        WorkflowUpdate(name="w3", reordered_workflowtask_ids=[0]).apply(workflow)
    assert workflow.name == "w"


@pytest.mark.parametrize("attribute", ["args_parallel", "args_non_parallel"])
def test_workflow_task_update_reserved_keys(attribute: str) -> None:
    from fractal_core.domain import WorkflowTaskUpdate

    assert WorkflowTaskUpdate(**{attribute: {"something": "else"}}).changes() == {
        attribute: {"something": "else"}
    }
    assert WorkflowTaskUpdate(**{attribute: None}).changes() == {attribute: None}
    for key in ("zarr_url", "zarr_urls", "zarr_dir", "init_args"):
        with pytest.raises(ValidationError, match="forbidden keys"):
            WorkflowTaskUpdate(**{attribute: {key: "/x"}})


def test_workflow_update_ids_non_negative() -> None:
    with pytest.raises(ValidationError):
        WorkflowUpdate(name="foo", reordered_workflowtask_ids=[1, 2, -3])
    assert WorkflowUpdate(reordered_workflowtask_ids=[]).changes() == {
        "reordered_workflowtask_ids": []
    }
    empty = Workflow(name="w")
    assert WorkflowUpdate(reordered_workflowtask_ids=[]).apply(empty).task_list == []
