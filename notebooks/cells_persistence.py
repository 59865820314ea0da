"""Cells of 03_persistence_and_resume.ipynb: SQLite, services, history, resume."""

from __future__ import annotations

from cells_common import TESTKIT_CELL
from cells_common import folders_cell

CELLS = [
    (
        "md",
        """
# Persistence, history and resuming after a failure

Projects, datasets with their images, workflows, jobs and the history of
every task run can live in a database: a SQLite file here (PostgreSQL works
the same). The *services* (`fractal_core.services`) are the business rules of
fractal-server's web API as plain functions over that store.

This notebook creates a project, a dataset and a workflow, submits a job in
which one task fails on two of six images, asks the history what happened,
fixes the cause and reruns that task on **only** the two failed images. The
dataset then holds what a run without failures would have produced.
""",
    ),
    folders_cell("persistence"),
    ("md", "## 1. A task package and a SQLite file"),
    TESTKIT_CELL,
    (
        "py",
        """
import fractal_core.services as sv
from fractal_core.repository.sql import SQLStore

store = SQLStore(WORK / "fractal.db")
# The store gives the task group ids; workflows refer to its tasks by id.
with store.unit_of_work() as uow:
    stored_group = uow.task_groups.add(group)
    uow.commit()
task_ids = {task.name: task.id for task in stored_group.task_list}
print("database:", WORK / "fractal.db")
""",
    ),
    (
        "md",
        """
## 2. Project, dataset, workflow

`create_images` writes six images; `mark_image` writes a marked copy of
each (`copy_suffix`), and is told to fail on the images of wells A02 and A05
(`fail_on`), standing in for a real failure such as a bad parameter or a
corrupt file.
""",
    ),
    (
        "py",
        """
project = sv.create_project(store, "plates")
dataset = sv.create_dataset(store, project.id, "plate 1", zarr_dir=str(WORK / "zarr"))
workflow = sv.create_workflow(store, project.id, "create and mark")
sv.create_workflow_task(
    store, project.id, workflow.id, task_ids["create_images"],
    args_non_parallel={"num_images": 6},
)
marking = sv.create_workflow_task(
    store, project.id, workflow.id, task_ids["mark_image"],
    args_parallel={"copy_suffix": "_marked", "fail_on": ["A/02/0", "A/05/0"]},
)
sv.get_workflow(store, project.id, workflow.id).workflow
""",
    ),
    (
        "md",
        """
## 3. Submit a job

`sv.submit_job` checks the request, records the job in the database and
starts it in the background. The job fails at `mark_image`; the four images
that worked keep their result (their marked copies are in the dataset).
""",
    ),
    (
        "py",
        """
executor = fc.LocalExecutor(max_workers=2)
handle = sv.submit_job(
    store,
    project.id,
    workflow.id,
    dataset.id,
    executor=executor,
    jobs_dir=WORK / "jobs",
)
outcome = fc.watch(handle)
print("job", handle.id, outcome.status.value)
outcome
""",
    ),
    (
        "md",
        """
## 4. History queries

Everything above is in the database: the job, and per workflow task its runs,
its units (one subprocess each) and the latest status of every image. A new
`SQLStore` on the same file, in another process or a later session, reads
the same.
""",
    ),
    (
        "py",
        """
from collections import Counter

for job in sv.list_jobs(store, project_id=project.id, log=False):
    tasks = f"{job.first_task_index}..{job.last_task_index}"
    print(f"job {job.id}: {job.status.value}, tasks {tasks}")

recorder = store.recorder()
wf = sv.get_workflow(store, project.id, workflow.id).workflow
ds = sv.get_dataset(store, project.id, dataset.id, with_images=True)
for wftask in wf.task_list:
    status = recorder.workflow_task_status(dataset.id, wftask.id)
    print(f"{wftask.task.name}: {status['status'] if status else 'never run'}")

originals = ds.images.filter_zarr_urls(type_filters={"marked": False})
statuses = recorder.image_status(dataset.id, marking.id, originals)
print("mark_image per image:", dict(Counter(statuses.values())))
failed = [url for url, status in statuses.items() if status == "failed"]
print("failed on:", [url.removeprefix(str(WORK)) for url in failed])
(run,) = recorder.runs_of(dataset.id, marking.id)
print(f"mark_image run {run.id}: {len(recorder.units_of(run.id))} units")
""",
    ),
    (
        "md",
        """
## 5. Fix the cause, then resume only the failed images

`fc.resume_plan` tells which images would run again; `fc.resume_task` runs
the workflow task on exactly those (one subprocess per image for a parallel
task), and records the result as if the task had succeeded everywhere. It is
an engine call on the workflow and dataset read from the store, with the
store's recorder: the history gets a new run, the dataset its new images.
""",
    ),
    (
        "py",
        """
sv.update_workflow_task(
    store,
    project.id,
    workflow.id,
    marking.id,
    {"args_parallel": {"copy_suffix": "_marked"}},
)
wf = sv.get_workflow(store, project.id, workflow.id).workflow

plan = fc.resume_plan(wf, ds, "mark_image", recorder=recorder)
print(f"to rerun: {len(plan.zarr_urls)} images, statuses now {plan.status_counts}")
resumed = fc.resume_task(
    wf, ds, "mark_image", recorder=recorder, executor=executor,
    working_dir=WORK / "jobs" / "resume-1",
)
(mark_progress,) = resumed.progress
print(f"resume: {resumed.status.value}, {mark_progress.units_total} units run")
statuses = recorder.image_status(dataset.id, marking.id, originals)
print("mark_image per image:", dict(Counter(statuses.values())))
""",
    ),
    (
        "md",
        """
## 6. The images, from the database

The dataset now holds the six images and their six marked copies, read back
from the database with filters and pagination. The per-task status in the
history says `done`.
""",
    ),
    (
        "py",
        """
executor.shutdown()
page = sv.query_images(store, project.id, dataset.id, page=1, page_size=5)
print(f"images in the dataset: {page.total_count} (first page: {len(page.items)})")
marked = sv.query_images(store, project.id, dataset.id, type_filters={"marked": True})
print(f"marked images: {marked.total_count}")
wells = sv.query_images(
    store, project.id, dataset.id, attribute_filters={"well": ["A02", "A05"]}
)
print(f"images of wells A02 and A05: {wells.total_count}")
print("mark_image:", recorder.workflow_task_status(dataset.id, marking.id)["status"])
""",
    ),
    (
        "py",
        """
again = SQLStore(WORK / "fractal.db")  # as a later session would
for job in sv.list_jobs(again, project_id=project.id, log=False):
    print(f"job {job.id}: {job.status.value}")
again.close()
store.close()
""",
    ),
]
