"""End-to-end demo: a real task package, a workflow, a SQLite store, history.

What happens, all for real and all under one output folder (default
`./demo-output`, or the first command-line argument):

1. the small task package in `tests/task_packages/fractal_tasks_testkit` is built
   as a wheel and collected into its own virtual environment (real pip); a
   later run finds the collected package again in its folder;
2. everything else lives in a SQLite file, `fractal.db`: the task group, a
   project, a workflow of three tasks (a converter that creates four images, a
   parallel task that marks each image, a compound task that makes a 2D
   projection of each 3D image) and, for every run, a new dataset;
3. the job runs on the local executor, each task unit a real subprocess, with
   its history (runs, units, per-image status) written to the database;
4. the images are queried from the database, the per-task status shown, and
   the jobs of every earlier run are listed: run the demo twice to see the
   first run's history.

Run it with `python3 examples/demo.py [OUTPUT_FOLDER]`.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import fractal_core as fc
from fractal_core import services as sv
from fractal_core.collection import build_wheel
from fractal_core.collection import find_task_groups
from fractal_core.repository.sql import SQLStore

REPO = Path(__file__).resolve().parent.parent
TESTKIT = REPO / "tests" / "task_packages" / "fractal_tasks_testkit"
PROJECT = "demo project"
WORKFLOW = "demo workflow"

log = logging.getLogger("fractal_core.demo")


def collected_testkit(base: Path) -> fc.TaskGroup:
    """The testkit collected under `base/tasks`: found again, or collected now."""
    settings = fc.CollectionSettings.for_current_python(str(base / "tasks"))
    found = [
        g for g in find_task_groups(settings) if g.pkg_name == "fractal-tasks-testkit"
    ]
    if found:
        log.info(
            "found %s %s at %s", found[-1].pkg_name, found[-1].version, found[-1].path
        )
        return found[-1]
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(TESTKIT, tmp)
        log.info("built %s; collecting it (venv + pip install) ...", wheel.name)
        result = fc.collect_wheel(wheel, settings=settings).raise_for_failure()
    assert result.task_group is not None
    return result.task_group


def stored_group(store: SQLStore, group: fc.TaskGroup) -> fc.TaskGroup:
    """The task group as stored in the database (added on the first run)."""
    with store.unit_of_work() as uow:
        known = uow.task_groups.list(pkg_name=group.pkg_name, version=group.version)
        if known:
            return known[0]
        stored = uow.task_groups.add(group)
        uow.commit()
        return stored


def project_and_workflow(store: SQLStore, group: fc.TaskGroup) -> tuple[int, int]:
    """The demo project and its workflow: created on the first run, then reused."""
    for project in sv.list_projects(store):
        if project.name == PROJECT:
            (workflow,) = [
                w for w in sv.list_workflows(store, project.id) if w.name == WORKFLOW
            ]
            return project.id, workflow.id  # type: ignore[return-value]
    project = sv.create_project(store, PROJECT)
    workflow = sv.create_workflow(store, project.id, WORKFLOW)  # type: ignore[arg-type]
    ids = {task.name: task.id for task in group.task_list}
    steps = [
        ("create_images", {"num_images": 4, "attributes": {"experiment": "demo"}}),
        ("mark_image", None),
        ("project_compound", {"suffix": "mip"}),
    ]
    for name, args in steps:
        sv.create_workflow_task(
            store,
            project.id,
            workflow.id,
            ids[name],
            args_non_parallel=args,  # type: ignore[arg-type]
        )
    return project.id, workflow.id  # type: ignore[return-value]


def print_images(title: str, images: list[dict]) -> None:
    print(f"\n{title} ({len(images)} images)")
    for image in images:
        types = ", ".join(f"{k}={v}" for k, v in sorted(image["types"].items()))
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(image["attributes"].items()))
        origin = f"  origin={image['origin']}" if image.get("origin") else ""
        print(f"  {image['zarr_url']}\n      [{types}] {{{attrs}}}{origin}")


def print_history(store: SQLStore, project_id: int, workflow_id: int) -> None:
    """Every job of the project, oldest first, and each task's latest status."""
    print("\njobs in the database (all runs of this demo):")
    for job in sv.list_jobs(store, project_id=project_id, log=False):
        ended = (
            job.end_timestamp.strftime("%Y-%m-%d %H:%M:%S")
            if job.end_timestamp
            else "-"
        )
        status = job.status.value
        print(f"  job {job.id}: dataset {job.dataset_id}, {status}, ended {ended}")
    recorder = store.recorder()
    workflow = sv.get_workflow(store, project_id, workflow_id).workflow
    print("per-task status on each dataset:")
    for dataset in sv.list_datasets(store, project_id):
        cells = []
        for wftask in workflow.task_list:
            status = recorder.workflow_task_status(dataset.id, wftask.id)
            if status is not None:
                cells.append(
                    f"{wftask.task.name}={status['status']} "
                    f"({status['num_done_images']} images done)"
                )
        print(f"  {dataset.name}: " + "; ".join(cells))


def main(out: Path) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    store = SQLStore(out / "fractal.db")
    for recovered in sv.recover_jobs(store):
        log.warning("job %s had been left running; marked failed", recovered.job_id)

    group = stored_group(store, collected_testkit(out))
    project_id, workflow_id = project_and_workflow(store, group)
    run = len(sv.list_datasets(store, project_id)) + 1
    dataset = sv.create_dataset(
        store, project_id, f"run {run}", zarr_dir=str(out / "zarr" / f"run-{run}")
    )
    assert dataset.id is not None

    with fc.LocalExecutor(max_workers=2) as executor:
        handle = sv.submit_job(
            store,
            project_id,
            workflow_id,
            dataset.id,
            executor=executor,
            jobs_dir=out / "jobs",
        )
        outcome = handle.result()
    status = outcome.status.value
    print(f"\nrun {run}: job {handle.id} {status}; folder {outcome.working_dir}")
    if outcome.status != fc.JobStatus.DONE:
        print(outcome.log)
        return 1

    page = sv.query_images(store, project_id, dataset.id)
    print_images("dataset images, read from the database", page.items)
    two_d = sv.query_images(store, project_id, dataset.id, type_filters={"3D": False})
    print_images("2D images (type filter {'3D': False})", two_d.items)
    print("attributes:", page.attributes)
    print("types:", page.types)
    print_history(store, project_id, workflow_id)

    wf_file = out / "workflow.json"
    workflow = sv.get_workflow(store, project_id, workflow_id).workflow
    fc.export_workflow_file(workflow, [group], wf_file)
    again = fc.import_workflow_file(wf_file, [group])
    n_tasks = len(again.task_list)
    print(f"\nworkflow exported to {wf_file} and imported back: {n_tasks} tasks")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output")))
