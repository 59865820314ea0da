"""Run workflow scenarios through fractal-server 2.17.0's own runner.

Executed with the python of the reference venv (never imported by fractal_core):

    python workflow_driver.py SCENARIOS.json RESULTS.json

`POSTGRES_*` and `JWT_SECRET_KEY` come from the environment; the schema must
already exist (`fractalctl set-db`). For every scenario it creates the rows a
job needs (resource, profile, user, project, dataset, task groups, tasks,
workflow tasks, job), calls the reference's `submit_workflow` with the local
resource (the same entry point as the API's job submission) and records the
dataset images, the job status and log, and the history (runs, units, image
statuses) as JSON. Workflow tasks are reported by position, never by id.
"""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any


def _add(db: Any, obj: Any) -> Any:
    db.add(obj)
    db.commit()
    db.refresh(obj)
    return obj


def run_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """Create the rows of one scenario, run it, read back what happened."""
    from fractal_server.app.db import get_sync_db
    from fractal_server.app.models import UserOAuth
    from fractal_server.app.models.v2 import DatasetV2
    from fractal_server.app.models.v2 import HistoryImageCache
    from fractal_server.app.models.v2 import HistoryRun
    from fractal_server.app.models.v2 import HistoryUnit
    from fractal_server.app.models.v2 import JobV2
    from fractal_server.app.models.v2 import Profile
    from fractal_server.app.models.v2 import ProjectV2
    from fractal_server.app.models.v2 import Resource
    from fractal_server.app.models.v2 import TaskGroupV2
    from fractal_server.app.models.v2 import TaskV2
    from fractal_server.app.models.v2 import WorkflowTaskV2
    from fractal_server.app.models.v2 import WorkflowV2
    from fractal_server.runner.set_start_and_last_task_index import (
        set_start_and_last_task_index,
    )
    from fractal_server.runner.v2.submit_workflow import submit_workflow
    from sqlmodel import select

    tag = uuid.uuid4().hex[:12]
    root = Path(scenario["root"])
    with next(get_sync_db()) as db:
        resource = _add(
            db,
            Resource(
                name=f"resource-{tag}",
                type="local",
                jobs_local_dir=str(root / "jobs"),
                tasks_local_dir=str(root / "tasks"),
                jobs_runner_config=scenario.get("jobs_runner_config") or {},
                tasks_python_config={
                    "default_version": "3.11",
                    "versions": {"3.11": sys.executable},
                },
                tasks_pixi_config={},
                jobs_poll_interval=0,
            ),
        )
        profile = _add(
            db,
            Profile(
                name=f"profile-{tag}", resource_id=resource.id, resource_type="local"
            ),
        )
        user = _add(
            db,
            UserOAuth(
                email=f"user-{tag}@example.org",
                hashed_password="not-a-password",
                is_active=True,
                is_verified=True,
                profile_id=profile.id,
                project_dir=str(root),
            ),
        )
        project = ProjectV2(name=f"project-{tag}", resource_id=resource.id)
        project.user_list.append(user)
        project = _add(db, project)
        dataset = _add(
            db,
            DatasetV2(
                name="dataset",
                project_id=project.id,
                zarr_dir=scenario["zarr_dir"],
                images=scenario["images"],
            ),
        )
        workflow = _add(db, WorkflowV2(name="workflow", project_id=project.id))
        task_ids = []
        for ind, spec in enumerate(scenario["tasks"]):
            task = TaskV2(
                name=spec["name"],
                type=spec["type"],
                command_non_parallel=spec.get("command_non_parallel"),
                command_parallel=spec.get("command_parallel"),
                meta_non_parallel=spec.get("meta_non_parallel") or {},
                meta_parallel=spec.get("meta_parallel") or {},
                input_types=spec.get("input_types") or {},
                output_types=spec.get("output_types") or {},
                version=spec.get("version"),
            )
            group = TaskGroupV2(
                user_id=user.id,
                resource_id=resource.id,
                active=True,
                origin="other",
                pkg_name=f"pkg-{ind}-{spec['name']}",
                version=spec.get("version"),
                task_list=[task],
            )
            db.add(group)
            db.commit()
            db.refresh(task)
            task_ids.append(task.id)
        wftask_ids = []
        for order, step in enumerate(scenario["workflow"]):
            spec = scenario["tasks"][step["task"]]
            wftask = _add(
                db,
                WorkflowTaskV2(
                    workflow_id=workflow.id,
                    task_id=task_ids[step["task"]],
                    task_type=spec["type"],
                    order=order,
                    args_non_parallel=step.get("args_non_parallel"),
                    args_parallel=step.get("args_parallel"),
                    meta_non_parallel=step.get("meta_non_parallel"),
                    meta_parallel=step.get("meta_parallel"),
                    type_filters=step.get("type_filters") or {},
                ),
            )
            wftask_ids.append(wftask.id)
        for row in (resource, profile):
            db.refresh(row)
            db.expunge(row)
        ids = dict(
            workflow=workflow.id,
            dataset=dataset.id,
            user=user.id,
            project=project.id,
            email=user.email,
        )

    job_results = []
    job_index = {}
    for ind, job_spec in enumerate(scenario["jobs"]):
        first, last = set_start_and_last_task_index(
            len(wftask_ids),
            job_spec.get("first_task_index"),
            job_spec.get("last_task_index"),
        )
        working_dir = str(root / "jobs" / f"job-{tag}-{ind}")
        with next(get_sync_db()) as db:
            job = _add(
                db,
                JobV2(
                    project_id=ids["project"],
                    dataset_id=ids["dataset"],
                    workflow_id=ids["workflow"],
                    user_email=ids["email"],
                    dataset_dump={},
                    workflow_dump={},
                    project_dump={},
                    first_task_index=first,
                    last_task_index=last,
                    working_dir=working_dir,
                    working_dir_user=working_dir,
                    attribute_filters=job_spec.get("attribute_filters") or {},
                    type_filters=job_spec.get("type_filters") or {},
                ),
            )
            job_id = job.id
        job_index[job_id] = ind
        submit_workflow(
            workflow_id=ids["workflow"],
            dataset_id=ids["dataset"],
            job_id=job_id,
            user_id=ids["user"],
            user_cache_dir=str(root / "cache"),
            resource=resource,
            profile=profile,
        )
        with next(get_sync_db()) as db:
            job = db.get(JobV2, job_id)
            job_results.append({"status": job.status, "log": job.log})

    position = {wid: pos for pos, wid in enumerate(wftask_ids)}
    with next(get_sync_db()) as db:
        dataset = db.get(DatasetV2, ids["dataset"])
        runs = db.execute(
            select(HistoryRun)
            .where(HistoryRun.dataset_id == ids["dataset"])
            .order_by(HistoryRun.id)
        ).scalars()
        run_list = []
        for run in runs:
            units = db.execute(
                select(HistoryUnit)
                .where(HistoryUnit.history_run_id == run.id)
                .order_by(HistoryUnit.id)
            ).scalars()
            run_list.append(
                {
                    "job": job_index[run.job_id],
                    "position": position[run.workflowtask_id],
                    "status": run.status,
                    "num_available_images": run.num_available_images,
                    "units": [
                        {"status": u.status, "zarr_urls": list(u.zarr_urls)}
                        for u in units
                    ],
                }
            )
        image_status: dict[str, dict[str, str]] = {}
        rows = db.execute(
            select(HistoryImageCache.workflowtask_id, HistoryImageCache.zarr_url)
            .add_columns(HistoryUnit.status)
            .join(
                HistoryUnit, HistoryImageCache.latest_history_unit_id == HistoryUnit.id
            )
            .where(HistoryImageCache.dataset_id == ids["dataset"])
            .order_by(HistoryImageCache.zarr_url)
        ).all()
        for wftask_id, zarr_url, status in rows:
            image_status.setdefault(str(position[wftask_id]), {})[zarr_url] = status
        return {
            "jobs": job_results,
            "images": dataset.images,
            "runs": run_list,
            "image_status": image_status,
        }


def main() -> None:
    scenarios = json.loads(Path(sys.argv[1]).read_text())
    results = []
    for scenario in scenarios:
        try:
            results.append(run_scenario(scenario))
        except Exception:  # reported, the test fails on it
            results.append({"driver_error": traceback.format_exc()})
    Path(sys.argv[2]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
