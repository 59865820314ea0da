"""Projects (services.md §3), after the reference's `test_api_project.py`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core import services as sv
from fractal_core.domain.job import JobStatus
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import Store

from .support import ZARR_DIR
from .support import add_job


def test_post_project_name_constraint(store: Store) -> None:
    """`test_post_project_name_constraint`: one name per store (or per user)."""
    first = sv.create_project(store, "proj")
    assert first.id is not None and first.name == "proj"
    with pytest.raises(sv.NameConflictError, match=r"Project name \(proj\) already"):
        sv.create_project(store, "proj")
    assert [p.name for p in sv.list_projects(store)] == ["proj"]


def test_name_scope_per_user(store: Store) -> None:
    """With `user_id`, another user may reuse a name (the reference's rule)."""
    sv.create_project(store, "shared", user_id=1)
    other = sv.create_project(store, "shared", user_id=2)
    assert other.user_ids == [2]
    with pytest.raises(sv.NameConflictError):
        sv.create_project(store, "shared", user_id=1)
    assert [p.id for p in sv.list_projects(store, user_id=2)] == [other.id]


def test_patch_project_name_constraint(store: Store) -> None:
    """`test_patch_project_name_constraint`; renaming to one's own name is fine."""
    a = sv.create_project(store, "a")
    sv.create_project(store, "b")
    assert a.id is not None
    with pytest.raises(sv.NameConflictError, match="already in use"):
        sv.rename_project(store, a.id, "b")
    assert sv.get_project(store, a.id).name == "a"
    assert sv.rename_project(store, a.id, "a").name == "a"  # weak point 18 fixed
    assert sv.rename_project(store, a.id, "c").name == "c"
    assert sv.get_project(store, a.id).name == "c"


def test_project_name_validated(store: Store) -> None:
    with pytest.raises(ValidationError):
        sv.create_project(store, "  ")
    a = sv.create_project(store, "a")
    with pytest.raises(ValidationError):
        sv.rename_project(store, a.id, "bad/name")  # type: ignore[arg-type]


def test_delete_project(store: Store) -> None:
    """`test_delete_project`: datasets and workflows go, jobs stay with null ids."""
    project = sv.create_project(store, "p")
    assert project.id is not None
    ds = sv.create_dataset(store, project.id, "ds", zarr_dir=ZARR_DIR)
    wf = sv.create_workflow(store, project.id, "wf")
    job = add_job(
        store,
        project_id=project.id,
        dataset_id=ds.id,
        workflow_id=wf.id,
        status=JobStatus.DONE,
    )
    sv.delete_project(store, project.id)
    with pytest.raises(NotFoundError):
        sv.get_project(store, project.id)
    assert sv.list_datasets(store) == [] and sv.list_workflows(store) == []
    survivor = sv.list_jobs(store)
    assert [j.id for j in survivor] == [job.id]
    assert (
        survivor[0].project_id,
        survivor[0].dataset_id,
        survivor[0].workflow_id,
    ) == (None, None, None)


def test_delete_project_ongoing_jobs(store: Store) -> None:
    """`test_delete_project_ongoing_jobs`: only a submitted job blocks."""
    project = sv.create_project(store, "p")
    assert project.id is not None
    add_job(store, project_id=project.id, status=JobStatus.DONE)
    add_job(store, project_id=project.id, status=JobStatus.FAILED)
    running = add_job(store, project_id=project.id)
    with pytest.raises(sv.ActiveJobError, match="linked to active job") as exc:
        sv.delete_project(store, project.id)
    assert exc.value.job_ids == [running.id]
    assert sv.get_project(store, project.id).id == project.id
    with store.unit_of_work() as uow:
        finished = running.model_copy(update={"status": JobStatus.FAILED})
        uow.jobs.update(finished)
        uow.commit()
    sv.delete_project(store, project.id)
    assert sv.list_projects(store) == []


def test_missing_project(store: Store) -> None:
    with pytest.raises(NotFoundError):
        sv.rename_project(store, 999, "x")
    with pytest.raises(NotFoundError):
        sv.delete_project(store, 999)
