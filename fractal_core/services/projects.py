"""Projects: create, read, list, rename, delete (spec §3).

A project name is unique within the store (the reference: per user; a
library store usually serves one user or one application, and callers that
share a store between users give `user_id`, which narrows the scope to that
user's projects). Renaming to the project's own current name is allowed (the
reference refuses it, weak point 18).
"""

from __future__ import annotations

from ..domain.project import Project
from ..domain.updates import ProjectUpdate
from ..repository.base import ConflictError
from ..repository.base import Store
from ..repository.base import UnitOfWork
from ._lookup import submitted_job_ids
from .errors import ActiveJobError
from .errors import NameConflictError

__all__ = [
    "create_project",
    "delete_project",
    "get_project",
    "list_projects",
    "rename_project",
]


def _check_name_free(
    uow: UnitOfWork,
    name: str,
    *,
    user_id: int | None,
    exclude_id: int | None = None,
) -> None:
    for project in uow.projects.list():
        if project.id == exclude_id or project.name != name:
            continue
        if user_id is None or user_id in project.user_ids:
            raise NameConflictError(
                "project", name, user_id, f"Project name ({name}) already in use"
            )


def create_project(
    store: Store,
    name: str,
    *,
    user_id: int | None = None,
    resource_id: int | None = None,
) -> Project:
    """A new project; `NameConflictError` if the name is taken in its scope."""
    project = Project(
        name=name,
        resource_id=resource_id,
        user_ids=[] if user_id is None else [user_id],
    )
    with store.unit_of_work() as uow:
        _check_name_free(uow, project.name, user_id=user_id)
        try:
            stored = uow.projects.add(project)
            uow.commit()
        except ConflictError as error:
            raise NameConflictError(
                "project",
                project.name,
                user_id,
                f"Project name ({name}) already in use",
            ) from error
    return stored


def get_project(store: Store, project_id: int) -> Project:
    """One project (`NotFoundError` if missing)."""
    with store.unit_of_work() as uow:
        return uow.projects.get(project_id)


def list_projects(store: Store, *, user_id: int | None = None) -> list[Project]:
    """All projects (or those of `user_id`), by id."""
    with store.unit_of_work() as uow:
        projects = uow.projects.list()
    if user_id is not None:
        projects = [p for p in projects if user_id in p.user_ids]
    return sorted(projects, key=lambda p: p.id or 0)


def rename_project(
    store: Store, project_id: int, name: str, *, user_id: int | None = None
) -> Project:
    """Rename a project; the new name must be free (its own name is fine)."""
    update = ProjectUpdate(name=name)
    with store.unit_of_work() as uow:
        project = uow.projects.get(project_id)
        renamed = update.apply(project)
        _check_name_free(uow, renamed.name, user_id=user_id, exclude_id=project_id)
        try:
            uow.projects.update(renamed)
            uow.commit()
        except ConflictError as error:
            raise NameConflictError(
                "project",
                renamed.name,
                user_id,
                f"Project name ({name}) already in use",
            ) from error
    return renamed


def delete_project(store: Store, project_id: int) -> None:
    """Delete a project and what it owns; refused while one of its jobs runs.

    Datasets, workflows (with their tasks) and history go; jobs stay with
    their project, workflow and dataset ids set to `None`.
    """
    with store.unit_of_work() as uow:
        uow.projects.get(project_id)
        active = submitted_job_ids(uow, project_id=project_id)
        if active:
            raise ActiveJobError(
                "project",
                project_id,
                active,
                f"Cannot delete project {project_id} because it is linked to "
                f"active job(s) {active}.",
            )
        uow.projects.delete(project_id)
        uow.commit()
