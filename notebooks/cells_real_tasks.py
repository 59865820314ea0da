"""Cells of 02_fractal_tasks_core.ipynb: real tasks on a small synthetic plate."""

from __future__ import annotations

from cells_common import folders_cell

CELLS = [
    (
        "md",
        """
# fractal-tasks-core on a small OME-Zarr plate

The tasks most Fractal users start with, from the
[fractal-tasks-core](https://pypi.org/project/fractal-tasks-core/) package,
run here on a synthetic HCS plate of two wells (64 x 64 pixels, two channels,
four z planes, a few bright "nuclei" per well):

Import OME-Zarr → Project Image (MIP) → Threshold Segmentation → Measure Features.

The first run downloads fractal-tasks-core 2.1.0 and its dependencies from
PyPI into a virtual environment (about 1 GB, one to three minutes). Point
`FRACTAL_NOTEBOOK_TASKS_DIR` at a folder that outlives the notebook to do
that only once.
""",
    ),
    folders_cell("fractal_tasks_core"),
    (
        "md",
        """
## 1. Collect fractal-tasks-core from PyPI

`collect_pypi` creates a virtual environment under `TASKS_DIR`, installs the
package with pip and reads its manifest; `find_task_groups` finds a group
collected earlier in the same folder.
""",
    ),
    (
        "py",
        """
VERSION = "2.1.0"
settings = fc.CollectionSettings.for_current_python(str(TASKS_DIR))
found = [
    g
    for g in fc.find_task_groups(settings)
    if g.pkg_name == "fractal-tasks-core" and g.version == VERSION
]
if found:
    group = found[0]
else:
    result = fc.collect_pypi("fractal-tasks-core", version=VERSION, settings=settings)
    group = result.raise_for_failure().task_group
print([task.name for task in group.task_list])
group
""",
    ),
    (
        "md",
        """
## 2. A synthetic plate

The plate is written with [ngio](https://pypi.org/project/ngio/), which the
task environment already holds, so the script below runs with that
environment's Python. Well B/03 gets three bright disks, well B/05 two.
""",
    ),
    (
        "py",
        '''
import subprocess

PLATE_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from ngio import create_empty_plate, create_ome_zarr_from_array
from ngio.ome_zarr_meta.ngio_specs import Channel

zarr_dir = Path(sys.argv[1])
plate = create_empty_plate(
    store=zarr_dir / "synth.zarr", name="synth", ngff_version="0.4"
)
yy, xx = np.mgrid[0:64, 0:64]
for seed, (row, col, disks) in enumerate([("B", "03", 3), ("B", "05", 2)]):
    rng = np.random.default_rng(seed)
    data = rng.normal(200, 10, size=(2, 4, 64, 64)).clip(0, None)
    for k in range(disks):
        cy, cx = 14 + 18 * k, 16 + 14 * k
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= 36
        data[0, :, inside] += 3000
        data[1, :, inside] += 1500
    plate.add_image(row=row, column=col, image_path="0", acquisition_id=0)
    image = create_ome_zarr_from_array(
        store=zarr_dir / "synth.zarr" / row / col / "0",
        array=data.astype(np.uint16),
        axes_names=["c", "z", "y", "x"],
        pixelsize=0.65,
        z_spacing=1.0,
        levels=1,
        channels_meta=[Channel.default_init(label="DAPI", wavelength_id="A01_C01"),
                       Channel.default_init(label="GFP", wavelength_id="A01_C02")],
        ngff_version="0.4",
    )
    image.add_table("FOV_ROI_table", image.build_image_roi_table(), backend="anndata")
"""

python = Path(group.venv_path) / "bin" / "python"
ZARR_DIR = WORK / "zarr"
if not (ZARR_DIR / "synth.zarr").exists():
    argv = [str(python), "-W", "ignore", "-c", PLATE_SCRIPT, str(ZARR_DIR)]
    subprocess.run(argv, check=True)
print(sorted(p.name for p in (ZARR_DIR / "synth.zarr" / "B").iterdir()))
''',
    ),
    (
        "md",
        """
## 3. The workflow

Arguments are checked against each task's JSON schema when they are set, so
a typo in an argument name fails here, not in the middle of a run.
""",
    ),
    (
        "py",
        """
tasks = {task.name: task for task in group.task_list}
wf = fc.Workflow(name="segment nuclei")
wf.append_task(
    tasks["Import OME-Zarr"],
    args_non_parallel={
        "zarr_name": "synth.zarr",
        "advanced_options": {"add_image_roi_table": True},
    },
)
wf.append_task(
    tasks["Project Image (HCS Plate)"],
    args_non_parallel={"method": "Maximum intensity projection"},
)
wf.append_task(
    tasks["Threshold Segmentation"],
    args_parallel={
        "channel": {"mode": "label", "identifier": "DAPI"},
        "segmentation_method": {"method": "Otsu"},
    },
)
wf.append_task(
    tasks["Measure Features"],
    args_parallel={"input_label_name": "DAPI_segmented", "output_table_name": "nuclei"},
)
wf
""",
    ),
    (
        "md",
        """
## 4. Run it

The import is a *converter*: it adds the plate's two images to the dataset.
The projection creates two 2D images (type `is_3D: False`); segmentation and
measurement then run only on those, because the workflow carries the
projection's output type forward as a type filter.
""",
    ),
    (
        "py",
        """
ds = fc.Dataset(name="synthetic plate", zarr_dir=str(ZARR_DIR))
with fc.LocalExecutor(max_workers=2) as executor:
    handle = fc.submit_job(
        workflow=wf, dataset=ds, executor=executor, working_dir=WORK / "jobs" / "1"
    )
    outcome = fc.watch(handle)
print("job status:", outcome.status.value)
outcome
""",
    ),
    (
        "py",
        """
print(f"images in the dataset: {len(ds.images)}")
projected = ds.images.filter(type_filters={"is_3D": False})
print(f"2D images: {len(projected)}")
ds
""",
    ),
    (
        "md",
        """
## 5. The results on disk

The segmentation wrote a label image and the measurement a feature table
inside each 2D image. ngio, again from the task environment, reads them back.
""",
    ),
    (
        "py",
        '''
import json

READ_RESULTS = """
import json, sys
import numpy as np
import ngio
found = {}
for url in sys.argv[1:]:
    image = ngio.open_ome_zarr_container(url)
    labels = image.get_label("DAPI_segmented").get_array()
    table = image.get_table("nuclei").dataframe
    found[url] = {"objects": len(np.unique(labels)) - 1, "rows": len(table)}
print(json.dumps(found))
"""
urls = [image["zarr_url"] for image in projected]
argv = [str(python), "-W", "ignore", "-c", READ_RESULTS, *urls]
proc = subprocess.run(argv, check=True, capture_output=True, text=True)
for url, found in json.loads(proc.stdout).items():
    well = "".join(url.split("/")[-3:-1])
    print(f"well {well}: {found['objects']} nuclei, {found['rows']} rows of features")
''',
    ),
]
