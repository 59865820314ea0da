"""Real fractal-tasks-core 2.1.0 workflows through `run_job` on the LocalExecutor.

The tasks are the Task objects of the group collected from PyPI by our own
`collect_pypi` (fixture `fractal_tasks_core_group`); the data is the synthetic
2-well plate (`synthetic_plate`). Expected results are those recorded in
shared/reference/real-tasks.md (minimal and full workflows).

Two observers are real engine parts with one addition each, not mocks: a
recorder that also keeps the image list written after every task, and a local
executor that also keeps the units it was given (to read their environment).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from realtasks_support import SyntheticPlate
from realtasks_support import TaskVenv
from realtasks_support import run_checked

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import JobStatus
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.workflow import Workflow
from fractal_core.engine import EngineSettings
from fractal_core.engine import InMemoryRecorder
from fractal_core.engine import JobOutcome
from fractal_core.engine import TaskApplied
from fractal_core.engine import run_job
from fractal_core.executors import LocalExecutor
from fractal_core.executors import WorkUnit
from fractal_core.executors.local import LocalHandle

pytestmark = pytest.mark.slow

IMPORT_ARGS = {"advanced_options": {"add_image_roi_table": True}}
MIP = "Maximum intensity projection"


class SnapshotRecorder(InMemoryRecorder):
    """The in-memory recorder, also keeping the image list after each task."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[list[dict[str, Any]]] = []

    def task_applied(self, event: TaskApplied) -> None:
        self.snapshots.append(copy.deepcopy(event.images.to_list()))
        super().task_applied(event)


class UnitKeepingExecutor(LocalExecutor):
    """The local executor, also keeping every unit it was asked to run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units: list[WorkUnit] = []

    def submit(self, units: Sequence[WorkUnit]) -> LocalHandle:
        self.units.extend(units)
        return super().submit(units)


def _run(
    workflow: Workflow, plate: SyntheticPlate, tmp_path: Path
) -> tuple[JobOutcome, Dataset, SnapshotRecorder, UnitKeepingExecutor]:
    dataset = Dataset(name="synthetic plate", zarr_dir=str(plate.zarr_dir))
    recorder = SnapshotRecorder()
    cache_dir = tmp_path / "fractal_cache"
    with UnitKeepingExecutor(max_workers=2) as executor:
        outcome = run_job(
            workflow=workflow,
            dataset=dataset,
            executor=executor,
            working_dir=tmp_path / "job",
            recorder=recorder,
            settings=EngineSettings(fractal_cache_dir=cache_dir),
            package_of=lambda task: ("fractal-tasks-core", task.version),
            zip_job_folder=False,
        )
    assert outcome.status == JobStatus.DONE, outcome.log
    assert executor.units, "no unit was submitted"
    for unit in executor.units:
        assert unit.env.get("FRACTAL_CACHE_DIR") == str(cache_dir), unit.id
    return outcome, dataset, recorder, executor


def _ome_attrs(folder: Path) -> dict[str, Any]:
    """OME-Zarr attributes of a group, zarr v2 (`.zattrs`) or v3 (`zarr.json`)."""
    if (folder / ".zattrs").is_file():
        return json.loads((folder / ".zattrs").read_text())
    attrs = json.loads((folder / "zarr.json").read_text())["attributes"]
    return attrs.get("ome", attrs)


def _array_shape(folder: Path) -> list[int]:
    if (folder / ".zarray").is_file():
        return json.loads((folder / ".zarray").read_text())["shape"]
    return json.loads((folder / "zarr.json").read_text())["shape"]


def _well(url: str) -> str:
    """`.../B/03/0` -> `B03` (the well attribute Import OME-Zarr sets)."""
    row, column = url.split("/")[-3:-1]
    return f"{row}{column}"


def _check_imported(images: list[dict[str, Any]], plate: SyntheticPlate) -> None:
    assert [image["zarr_url"] for image in images] == plate.image_urls
    for image in images:
        assert image["origin"] is None
        assert image["attributes"] == {
            "plate": plate.plate_name,
            "well": _well(image["zarr_url"]),
        }
        assert image["types"] == {"is_3D": True}
        tables = _ome_attrs(Path(image["zarr_url"]) / "tables")["tables"]
        assert "image_ROI_table" in tables  # Import OME-Zarr's side effect


def _check_projected(image: dict[str, Any], origin: dict[str, Any]) -> None:
    """A MIP image: origin set, attributes inherited, is_3D False, data on disk."""
    plate = origin["attributes"]["plate"].removesuffix(".zarr") + "_mip.zarr"
    suffix = origin["zarr_url"].split("/")[-3:]
    assert image["zarr_url"].split("/")[-4:] == [plate, *suffix]
    assert image["origin"] == origin["zarr_url"]
    # `well` (and any other attribute) is inherited from the origin by the
    # engine: the task itself only returns `plate`.
    assert image["attributes"] == {**origin["attributes"], "plate": plate}
    assert image["types"] == {**origin["types"], "is_3D": False}
    folder = Path(image["zarr_url"])
    plate_meta = _ome_attrs(folder.parents[2])["plate"]
    assert plate_meta["name"] == plate  # the task keeps ".zarr" in the name
    assert "/".join(suffix[:2]) in [w["path"] for w in plate_meta["wells"]]
    well_images = _ome_attrs(folder.parent)["well"]["images"]
    assert suffix[2] in [i["path"] for i in well_images]
    multiscale = _ome_attrs(folder)["multiscales"][0]
    assert [axis["name"] for axis in multiscale["axes"]] == ["c", "z", "y", "x"]
    level = multiscale["datasets"][0]["path"]
    assert _array_shape(folder / level) == [2, 1, 64, 64]


def _check_all_done(outcome: JobOutcome, workflow: Workflow) -> None:
    """Per task: history run done; per image it processed: status done.

    As in the reference, a converter's unit lists no input images, so the images
    it creates have no status for that task ("unset").
    """
    for position, wftask in enumerate(workflow.task_list):
        key = f"position-{position}"
        status = outcome.task_status(key)
        assert status is not None and status["status"] == "done", (key, status)
        statuses = outcome.image_status(key)
        touched = {url: value for url, value in statuses.items() if value != "unset"}
        if wftask.task.task_type.startswith("converter_"):
            assert touched == {}, (key, touched)
        else:
            assert touched and set(touched.values()) == {"done"}, (key, touched)


def _import_workflow(name: str, group: TaskGroup, plate: SyntheticPlate) -> Workflow:
    """A workflow whose first task imports the synthetic plate."""
    workflow = Workflow(name=name)
    workflow.append_task(
        group.get_task("Import OME-Zarr"),
        args_non_parallel={"zarr_name": plate.plate_name, **IMPORT_ARGS},
    )
    return workflow


def _statuses(
    outcome: JobOutcome, position: int, images: list[dict[str, Any]]
) -> list[str]:
    """Status of each image (in list order) for the task at `position`."""
    status = outcome.image_status(f"position-{position}")
    return [status[image["zarr_url"]] for image in images]


def test_import_then_project(
    fractal_tasks_core_group: TaskGroup,
    synthetic_plate: SyntheticPlate,
    tmp_path: Path,
) -> None:
    group = fractal_tasks_core_group
    workflow = _import_workflow("import and project", group, synthetic_plate)
    workflow.append_task(
        group.get_task("Project Image (HCS Plate)"),
        args_non_parallel={"method": MIP},
    )
    outcome, dataset, recorder, executor = _run(workflow, synthetic_plate, tmp_path)

    assert len(recorder.snapshots) == 2  # one image list written per task
    after_import, after_projection = recorder.snapshots
    _check_imported(after_import, synthetic_plate)

    images = dataset.images.to_list()
    assert images == after_projection
    assert outcome.images is not None and outcome.images.to_list() == images
    assert len(images) == 4
    assert images[:2] == after_import  # the 3D images are untouched
    for projected, origin in zip(images[2:], images[:2], strict=True):
        _check_projected(projected, origin)
    assert images[2]["zarr_url"] == f"{synthetic_plate.zarr_dir}/synth_mip.zarr/B/03/0"

    # 1 import + 1 projection init + 2 projection computes, as real subprocesses
    assert len(executor.units) == 4
    _check_all_done(outcome, workflow)
    # As in the reference, a compound task's statuses are those of its input
    # images (its init unit); the images it creates have none.
    assert _statuses(outcome, 1, images) == ["done", "done", "unset", "unset"]
    assert "End execution of workflow" in outcome.log


SEGMENTATION_CHECK = """
import json, sys
import numpy as np
import ngio
out = {}
for url in sys.argv[1:]:
    container = ngio.open_ome_zarr_container(url)
    labels = container.get_label("DAPI_segmented").get_array()
    table = container.get_table("nuclei_features").dataframe
    out[url] = {
        "objects": int(len(np.unique(labels)) - 1),
        "rows": int(len(table)),
        "columns": [str(c) for c in table.columns],
    }
print(json.dumps(out))
"""


def test_full_workflow(
    fractal_tasks_core_group: TaskGroup,
    fractal_tasks_core_venv: TaskVenv,
    synthetic_plate: SyntheticPlate,
    tmp_path: Path,
) -> None:
    group = fractal_tasks_core_group
    profiles = {w: f"flat_{w}.tif" for w in ("A01_C01", "A01_C02")}
    workflow = _import_workflow("full", group, synthetic_plate)
    workflow.append_task(
        group.get_task("Illumination Correction"),
        args_parallel={
            "illumination_profiles": {
                "model": "Profile",
                "folder": str(synthetic_plate.illum_profiles_dir),
                "profiles": profiles,
            },
            "background_correction": {
                "model": "Constant",
                "constants": dict.fromkeys(profiles, 100),
            },
            "input_roi_table": "FOV_ROI_table",
            "overwrite_input": False,
        },
    )
    workflow.append_task(
        group.get_task("Project Image (HCS Plate)"),
        args_non_parallel={"method": MIP},
    )
    workflow.append_task(
        group.get_task("Threshold Segmentation"),
        args_parallel={
            "channel": {"mode": "label", "identifier": "DAPI"},
            "segmentation_method": {"method": "Otsu"},
        },
    )
    workflow.append_task(
        group.get_task("Measure Features"),
        args_parallel={
            "input_label_name": "DAPI_segmented",
            "output_table_name": "nuclei_features",
        },
    )
    outcome, dataset, recorder, executor = _run(workflow, synthetic_plate, tmp_path)

    assert len(recorder.snapshots) == 5
    _check_imported(recorder.snapshots[0], synthetic_plate)
    images = dataset.images.to_list()
    assert len(images) == 6
    raw, corrected, projected = images[0:2], images[2:4], images[4:6]
    assert raw == recorder.snapshots[0]
    for image, origin in zip(corrected, raw, strict=True):
        assert image["zarr_url"] == f"{origin['zarr_url']}_illum_corr"
        assert image["origin"] == origin["zarr_url"]
        # no attributes or types returned: copied from the origin, plus the
        # manifest's output_types
        assert image["attributes"] == origin["attributes"]
        assert image["types"] == {"is_3D": True, "illumination_corrected": True}
        assert Path(image["zarr_url"]).is_dir()
    # the projection saw only the corrected images (running type filters)
    for image, origin in zip(projected, corrected, strict=True):
        _check_projected(image, origin)
    assert projected[0]["zarr_url"].endswith("/synth_mip.zarr/B/03/0_illum_corr")
    # the last two tasks return null: every input image is touched and the
    # image list does not change
    assert recorder.snapshots[2] == recorder.snapshots[3] == recorder.snapshots[4]

    # 1 + 2 + (1 + 2) + 2 + 2 units
    assert len(executor.units) == 10
    _check_all_done(outcome, workflow)
    done, unset = ["done"] * 2, ["unset"] * 2
    assert _statuses(outcome, 1, images) == done + unset + unset
    assert _statuses(outcome, 2, images) == unset + done + unset
    assert _statuses(outcome, 3, images) == unset + unset + done
    assert _statuses(outcome, 4, images) == unset + unset + done

    found = json.loads(
        run_checked(
            [
                str(fractal_tasks_core_venv.python),
                "-c",
                SEGMENTATION_CHECK,
                *(image["zarr_url"] for image in projected),
            ],
            "reading labels and tables",
            timeout=300,
        )
    )
    objects = {url: found[url]["objects"] for url in found}
    assert objects == {projected[0]["zarr_url"]: 3, projected[1]["zarr_url"]: 2}
    for url, result in found.items():
        assert result["rows"] == objects[url], url
        assert "area" in result["columns"]
        assert "intensity_mean-DAPI" in result["columns"]
    assert os.path.isdir(tmp_path / "job" / "4_measure_features")
