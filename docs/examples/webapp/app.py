"""An example web backend embedding fractal_core: FastAPI over the services layer.

`create_app(database_url, data_dir)` builds the application; both default to
the environment (`FRACTAL_WEBAPP_DATABASE_URL`, `FRACTAL_WEBAPP_DATA_DIR`).
Run it with uvicorn (see README.md):

    uvicorn --app-dir docs/examples --factory webapp.app:create_app

Each route is a thin call into `fractal_core.services` (or the collection
package): the rules live in the library, the routes only translate HTTP to
calls and results to JSON, and `errors.py` turns refusals into 404/409/422.
On startup the backend opens the SQL store, marks failed the jobs and
collections a previous process left running (killing their leftover task
processes) and starts one local executor for all jobs. On shutdown it cancels
the jobs it runs and waits for them to end.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Annotated
from typing import Any

from fastapi import APIRouter
from fastapi import Depends
from fastapi import FastAPI
from fastapi import Request
from fastapi.responses import PlainTextResponse
from filelock import FileLock
from filelock import Timeout

from fractal_core import services as sv
from fractal_core.collection import CollectionSettings
from fractal_core.executors.local import LocalExecutor
from fractal_core.repository.base import Store
from fractal_core.repository.sql import SQLStore

from . import collecting
from .errors import install_error_handlers
from .schemas import CollectRequest
from .schemas import DatasetCreate
from .schemas import ImageQuery
from .schemas import JobSubmit
from .schemas import ProjectCreate
from .schemas import StopRequest
from .schemas import WorkflowCreate
from .schemas import activity_read
from .schemas import dataset_read
from .schemas import group_read
from .schemas import job_read
from .schemas import project_read
from .schemas import workflow_read
from .settings import Settings

logger = logging.getLogger(__name__)

SHUTDOWN_WAIT = 30.0
"""Seconds the shutdown waits for each cancelled job to end."""


@dataclass
class Backend:
    """What the routes share: the store, the executor and the job registry."""

    settings: Settings
    store: Store
    executor: LocalExecutor
    collection: CollectionSettings
    registry: sv.JobRegistry = field(default_factory=sv.JobRegistry)
    recovered_jobs: list[int] = field(default_factory=list)
    failed_activities: list[int] = field(default_factory=list)
    lock: FileLock | None = None


class BackendBusyError(RuntimeError):
    """Another backend process already serves this data folder."""


def _take_data_dir(settings: Settings) -> FileLock:
    """Hold `<data_dir>/backend.lock` for the backend's life, or refuse to start.

    Startup fails every collection left in flight, which is only right when no
    other backend process serves the same data folder: this makes that
    assumption a checked one instead of a silent one.
    """
    path = settings.data_dir / "backend.lock"
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise BackendBusyError(
            f"Another backend process serves {settings.data_dir} (it holds {path}); "
            "this example runs one process per data folder and database."
        ) from None
    return lock


def open_backend(settings: Settings) -> Backend:
    """Open the store, recover what a dead process left, start the executor."""
    for folder in (settings.tasks_dir, settings.jobs_dir, settings.projects_dir):
        folder.mkdir(parents=True, exist_ok=True)
    lock = _take_data_dir(settings)
    try:
        return _open_locked(settings, lock)
    except BaseException:
        lock.release()
        raise


def _open_locked(settings: Settings, lock: FileLock) -> Backend:
    store: Store = SQLStore(settings.database_url)
    collection = CollectionSettings.for_current_python(
        str(settings.tasks_dir), upgrade_pip=settings.upgrade_pip
    )
    recovered = sv.recover_jobs(store)
    for job in recovered:
        logger.warning(
            "job %s was left running by a dead process: %s", job.job_id, job.log
        )
    failed = collecting.recover_collections(store, collection)
    return Backend(
        settings=settings,
        store=store,
        executor=LocalExecutor(max_workers=settings.max_workers),
        collection=collection,
        recovered_jobs=[int(str(job.job_id)) for job in recovered],
        failed_activities=failed,
        lock=lock,
    )


def close_backend(backend: Backend) -> None:
    """Cancel the jobs this process runs, wait for them, release everything."""
    handles = backend.registry.running()
    for handle in handles:
        handle.cancel("the web backend is shutting down")
    for handle in handles:
        if not handle.wait(SHUTDOWN_WAIT):
            logger.error("job %s did not end within %s s", handle.id, SHUTDOWN_WAIT)
    backend.executor.shutdown()
    backend.store.close()
    if backend.lock is not None:
        backend.lock.release()


def backend(request: Request) -> Backend:
    """The application's backend (a FastAPI dependency)."""
    found: Backend = request.app.state.backend
    return found


Dep = Annotated[Backend, Depends(backend)]
router = APIRouter()


@router.get("/health")
def health(b: Dep) -> dict[str, Any]:
    """Alive; and what the startup recovered from a previous process."""
    return {
        "status": "ok",
        "recovered_jobs": b.recovered_jobs,
        "failed_activities": b.failed_activities,
        "running_jobs": [h.id for h in b.registry.running()],
    }


@router.post("/task-groups/collect", status_code=202)
def collect(body: CollectRequest, b: Dep) -> dict[str, Any]:
    """Start collecting a task package in the background; poll the activity."""
    activity_id = collecting.start_collection(
        b.store,
        b.collection,
        wheel_path=body.wheel_path,
        package=body.package,
        version=body.version,
    )
    return activity_read(collecting.get_activity(b.store, activity_id))


@router.get("/task-groups/activities/{activity_id}")
def get_activity(activity_id: int, b: Dep) -> dict[str, Any]:
    return activity_read(collecting.get_activity(b.store, activity_id))


@router.get("/task-groups")
def list_task_groups(b: Dep) -> list[dict[str, Any]]:
    with b.store.unit_of_work() as uow:
        groups = uow.task_groups.list()
    return [group_read(g) for g in groups]


@router.post("/projects", status_code=201)
def create_project(body: ProjectCreate, b: Dep) -> dict[str, Any]:
    return project_read(sv.create_project(b.store, body.name))


@router.get("/projects/{project_id}")
def get_project(project_id: int, b: Dep) -> dict[str, Any]:
    return project_read(sv.get_project(b.store, project_id))


@router.post("/projects/{project_id}/datasets", status_code=201)
def create_dataset(project_id: int, body: DatasetCreate, b: Dep) -> dict[str, Any]:
    dataset = sv.create_dataset(
        b.store,
        project_id,
        body.name,
        zarr_dir=body.zarr_dir,
        project_dir=str(b.settings.projects_dir),
    )
    return dataset_read(dataset)


@router.get("/projects/{project_id}/datasets/{dataset_id}")
def get_dataset(project_id: int, dataset_id: int, b: Dep) -> dict[str, Any]:
    return dataset_read(sv.get_dataset(b.store, project_id, dataset_id))


@router.post("/projects/{project_id}/datasets/{dataset_id}/images/query")
def query_images(
    project_id: int,
    dataset_id: int,
    b: Dep,
    body: ImageQuery | None = None,
    page: int = 1,
    page_size: int | None = None,
) -> dict[str, Any]:
    """One page of the dataset's images matching type/attribute filters."""
    query = body or ImageQuery()
    result = sv.query_images(
        b.store,
        project_id,
        dataset_id,
        zarr_url=query.zarr_url,
        type_filters=query.type_filters,
        attribute_filters=query.attribute_filters,
        page=page,
        page_size=page_size,
    )
    return asdict(result)


@router.post("/projects/{project_id}/workflows", status_code=201)
def create_workflow(project_id: int, body: WorkflowCreate, b: Dep) -> dict[str, Any]:
    """A workflow and its tasks; when a task is refused, no workflow is left."""
    workflow = sv.create_workflow(
        b.store, project_id, body.name, description=body.description
    )
    assert workflow.id is not None
    try:
        for task in body.tasks:
            sv.create_workflow_task(
                b.store,
                project_id,
                workflow.id,
                task.task_id,
                **task.model_dump(exclude={"task_id"}, exclude_none=True),
            )
    except Exception:
        sv.delete_workflow(b.store, project_id, workflow.id)
        raise
    read = sv.get_workflow(b.store, project_id, workflow.id)
    return workflow_read(read.workflow, list(read.warnings))


@router.get("/projects/{project_id}/workflows/{workflow_id}")
def get_workflow(project_id: int, workflow_id: int, b: Dep) -> dict[str, Any]:
    read = sv.get_workflow(b.store, project_id, workflow_id)
    return workflow_read(read.workflow, list(read.warnings))


@router.post("/projects/{project_id}/jobs", status_code=202)
def submit_job(project_id: int, body: JobSubmit, b: Dep) -> dict[str, Any]:
    """Check, record and start a job; answer at once with its id."""
    handle = sv.submit_job(
        b.store,
        project_id,
        body.workflow_id,
        body.dataset_id,
        body.job_create(),
        executor=b.executor,
        jobs_dir=b.settings.jobs_dir,
        registry=b.registry,
        stop_poll_interval=b.settings.stop_poll_interval,
    )
    return job_read(sv.get_job(b.store, project_id, int(str(handle.id))))


@router.get("/projects/{project_id}/jobs/{job_id}")
def get_job(project_id: int, job_id: int, b: Dep) -> dict[str, Any]:
    """Status, timestamps and per-task progress (read from the store)."""
    job = sv.get_job(b.store, project_id, job_id)
    return job_read(job, sv.job_progress(b.store, project_id, job_id))


@router.get(
    "/projects/{project_id}/jobs/{job_id}/log", response_class=PlainTextResponse
)
def get_job_log(project_id: int, job_id: int, b: Dep) -> str:
    """The job's log; while it runs, the current content of its workflow.log."""
    job = sv.get_job(b.store, project_id, job_id, show_tmp_logs=True)
    return job.log or ""


@router.post("/projects/{project_id}/jobs/{job_id}/stop", status_code=202)
def stop_job(
    project_id: int, job_id: int, b: Dep, body: StopRequest | None = None
) -> dict[str, Any]:
    """Cancel a running job ("cancelled"), or ask its process to ("requested")."""
    reason = (body or StopRequest()).reason
    outcome = sv.request_stop(
        b.store, project_id, job_id, reason=reason, registry=b.registry
    )
    return {"job_id": job_id, "stop": outcome}


def create_app(
    database_url: str | None = None, data_dir: str | Path | None = None
) -> FastAPI:
    """The application over `database_url` (default `<data_dir>/fractal.sqlite`)."""
    settings = Settings.resolve(database_url, data_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = open_backend(settings)
        try:
            yield
        finally:
            close_backend(app.state.backend)

    app = FastAPI(title="fractal_core example backend", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    return app
