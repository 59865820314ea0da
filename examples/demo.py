"""End-to-end demo: collect a real task package, run a workflow, look at the images.

What happens, all for real and all under one output folder (default
`./demo-output`, or the first command-line argument):

1. the small task package in `tests/task_packages/fractal_tasks_testkit` is built
   as a wheel and collected into its own virtual environment (real pip);
2. a workflow of three of its tasks is built in Python: a converter that creates
   four images, a parallel task that marks each image, and a compound task that
   makes a 2D projection of each 3D image;
3. the workflow runs on the local executor, each task unit a real subprocess;
4. the resulting image list is printed, filtered, and the workflow is exported
   to a JSON file and imported back.

Run it with `python3 examples/demo.py [OUTPUT_FOLDER]`.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path

import fractal_core as fc
from fractal_core.collection import build_wheel

REPO = Path(__file__).resolve().parent.parent
TESTKIT = REPO / "tests" / "task_packages" / "fractal_tasks_testkit"

log = logging.getLogger("fractal_core.demo")


def collect_testkit(base: Path) -> fc.TaskGroup:
    """Build the testkit wheel and collect it into a venv under `base/tasks`."""
    settings = fc.CollectionSettings.for_current_python(str(base / "tasks"))
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(TESTKIT, tmp)
        log.info("built %s; collecting it (venv + pip install) ...", wheel.name)
        result = fc.collect_wheel(wheel, settings=settings).raise_for_failure()
    group = result.task_group
    assert group is not None
    n_tasks = len(group.task_list)
    log.info("collected %s %s: %d tasks", group.pkg_name, group.version, n_tasks)
    return group


def build_workflow(group: fc.TaskGroup) -> fc.Workflow:
    """Converter -> parallel -> compound, with their arguments."""
    tasks = {task.name: task for task in group.task_list}
    workflow = fc.Workflow(name="demo workflow", description="fractal_core demo")
    workflow.append_task(
        tasks["create_images"],
        args_non_parallel={"num_images": 4, "attributes": {"experiment": "demo"}},
        alias="make four 3D images",
    )
    workflow.append_task(tasks["mark_image"], alias="mark each image")
    workflow.append_task(tasks["project_compound"], args_non_parallel={"suffix": "mip"})
    return workflow


def print_images(title: str, images: list[dict]) -> None:
    print(f"\n{title} ({len(images)} images)")
    for image in images:
        types = ", ".join(f"{k}={v}" for k, v in sorted(image["types"].items()))
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(image["attributes"].items()))
        origin = f"  origin={image['origin']}" if image.get("origin") else ""
        print(f"  {image['zarr_url']}\n      [{types}] {{{attrs}}}{origin}")


def main(out: Path) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    out = out.resolve()

    group = collect_testkit(out)
    workflow = build_workflow(group)
    dataset = fc.Dataset(name="demo dataset", zarr_dir=str(out / "zarr"))

    with fc.LocalExecutor(max_workers=2) as executor:
        outcome = fc.run_job(
            workflow=workflow,
            dataset=dataset,
            executor=executor,
            working_dir=out / "jobs" / "job_0001",
            package_of=lambda task: (group.pkg_name, group.version),
        )
    print(f"\njob status: {outcome.status}; job folder: {outcome.working_dir}")
    if outcome.status != fc.JobStatus.DONE:
        print(outcome.log)
        return 1

    print_images("dataset images after the workflow", dataset.images.to_list())
    print_images(
        "2D images (type filter {'3D': False})",
        dataset.images.filter(type_filters={"3D": False}),
    )
    print("attributes:", fc.aggregate_attributes(dataset.images))
    print("types:", fc.aggregate_types(dataset.images))

    wf_file = out / "workflow.json"
    fc.export_workflow_file(workflow, [group], wf_file)
    again = fc.import_workflow_file(wf_file, [group])
    n_tasks = len(again.task_list)
    print(f"\nworkflow exported to {wf_file} and imported back: {n_tasks} tasks")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output")))
