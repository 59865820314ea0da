"""Cells of 01_quickstart.ipynb: collect, build, run, look at images."""

from __future__ import annotations

from cells_common import TESTKIT_CELL
from cells_common import folders_cell

CELLS = [
    (
        "md",
        """
# Quickstart: a workflow from Python, run on this machine

This notebook runs top to bottom in a fresh kernel:

1. collect a task package into its own virtual environment,
2. build a workflow of three tasks in Python,
3. run it on a dataset with the local executor (every task unit is a real
   subprocess) while a progress table follows it,
4. look at the resulting images and select some of them with filters.

Nothing is written outside one folder (printed below). Set
`FRACTAL_NOTEBOOK_DIR` before starting Jupyter to choose it.
""",
    ),
    folders_cell("quickstart"),
    (
        "md",
        """
## 1. Collect a task package

A *task package* is a Python package with a `__FRACTAL_MANIFEST__.json` that
lists its tasks. *Collecting* it creates a virtual environment, installs the
package there and reads the manifest into `Task` objects, grouped in a
`TaskGroup`. Here we build a wheel of the small test package shipped in
fractal_core's repository and collect it (`fc.collect_pypi` does the same
from PyPI). A second run finds the collected package again.
""",
    ),
    TESTKIT_CELL,
    (
        "md",
        """
## 2. Build a workflow

A workflow is an ordered list of tasks with their arguments:

- `create_images` is a *converter*: it creates images (here four 3D images)
  under the dataset's `zarr_dir`;
- `mark_image` is a *parallel* task: it runs once per image, in parallel;
- `project_compound` is a *compound* task: an init part decides what to do
  (one 2D projection per 3D image), then a compute part runs per image.
""",
    ),
    (
        "py",
        """
wf = fc.Workflow(name="quickstart")
wf.append_task(
    tasks["create_images"],
    args_non_parallel={"num_images": 4, "attributes": {"experiment": "quickstart"}},
)
wf.append_task(tasks["mark_image"])
wf.append_task(tasks["project_compound"], args_non_parallel={"suffix": "mip"})
print(repr(wf))
wf
""",
    ),
    (
        "md",
        """
## 3. Run it

A `Dataset` names the folder where images live (`zarr_dir`) and holds the
image list. `fc.submit_job` starts the job in the background and returns a
handle at once; `fc.watch` shows a progress table per task (units done /
total) until the job ends and returns its outcome. In a terminal the same
call prints one line per change.
""",
    ),
    (
        "py",
        """
ds = fc.Dataset(name="quickstart", zarr_dir=str(WORK / "zarr"))
with fc.LocalExecutor(max_workers=2) as executor:
    handle = fc.submit_job(
        workflow=wf, dataset=ds, executor=executor, working_dir=WORK / "jobs" / "1"
    )
    outcome = fc.watch(handle)
print("job status:", outcome.status.value)
""",
    ),
    (
        "md",
        """
The outcome shows, per task, how many units and images are done, and the
end of the log of every failure (there is none here).
""",
    ),
    ("py", "outcome"),
    (
        "md",
        """
## 4. Look at the images

Each image is a dictionary: its `zarr_url`, the image it was derived from
(`origin`), `attributes` (values such as the well) and `types` (booleans
such as `3D`). The dataset's view counts images per type and attribute value.
""",
    ),
    (
        "py",
        """
print(f"images in the dataset: {len(ds.images)}")
ds
""",
    ),
    ("py", "ds.images"),
    (
        "md",
        """
## 5. Filters

*Type filters* select images by their boolean types, *attribute filters* by
a list of accepted values per attribute. Tasks use the same filters to decide
which images they receive.
""",
    ),
    (
        "py",
        """
two_d = ds.images.filter(type_filters={"3D": False})
print(f"2D images: {len(two_d)}")
some_wells = ds.images.filter(
    type_filters={"3D": True}, attribute_filters={"well": ["A01", "A02"]}
)
print(f"3D images of wells A01 and A02: {len(some_wells)}")
for image in two_d:
    new = image["zarr_url"].removeprefix(str(WORK))
    print(new, "from", image["origin"].removeprefix(str(WORK)))
""",
    ),
    (
        "md",
        """
## Next

- `02_fractal_tasks_core.ipynb`: the same with real image-analysis tasks on a
  small OME-Zarr plate;
- `03_persistence_and_resume.ipynb`: keep projects, jobs and history in a
  SQLite file, and rerun a task on only the images where it failed.
""",
    ),
]
