"""The real-task fixtures themselves: cached venv, manifest, synthetic plate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from realtasks_support import FRACTAL_TASKS_CORE_VERSION
from realtasks_support import CachedCollection
from realtasks_support import SyntheticPlate
from realtasks_support import TaskVenv
from realtasks_support import cached_fractal_tasks_core
from realtasks_support import fractal_tasks_core_settings

from fractal_core.executors import LocalExecutor
from fractal_core.executors import WorkUnit


@pytest.mark.slow
def test_venv_has_fractal_tasks_core(fractal_tasks_core_venv: TaskVenv) -> None:
    venv = fractal_tasks_core_venv
    out = subprocess.run(
        [
            str(venv.python),
            "-c",
            "import importlib.metadata, fractal_tasks_core, ngio; "
            "print(importlib.metadata.version('fractal-tasks-core'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == FRACTAL_TASKS_CORE_VERSION
    base = Path(fractal_tasks_core_settings().base_dir)
    assert (
        venv.root == base / "fractal-tasks-core" / FRACTAL_TASKS_CORE_VERSION / "venv"
    )


@pytest.mark.slow
def test_cached_collection_is_reused(
    fractal_tasks_core_collection: CachedCollection,
) -> None:
    record = fractal_tasks_core_collection.path / "collection.json"
    before = record.stat().st_mtime_ns
    again = cached_fractal_tasks_core()
    assert not again.collected_now
    assert again.task_group == fractal_tasks_core_collection.task_group
    assert record.stat().st_mtime_ns == before  # not collected again


@pytest.mark.slow
def test_manifest_found(fractal_tasks_core_venv: TaskVenv) -> None:
    venv = fractal_tasks_core_venv
    assert venv.manifest_path.is_file()
    assert venv.manifest["manifest_version"] == "2"
    importer = venv.task("Import OME-Zarr")
    assert importer["executable_non_parallel"] == "import_ome_zarr.py"
    assert "executable_parallel" not in importer or not importer["executable_parallel"]
    projection = venv.commands("Project Image (HCS Plate)")
    assert projection["non_parallel"] is not None
    assert projection["parallel"] is not None
    for command in projection.values():
        python, script = str(command).split()
        assert python == str(venv.python)
        assert Path(script).is_file()
    assert venv.task("Project Image (HCS Plate)")["output_types"] == {"is_3D": False}
    with pytest.raises(KeyError, match="No task named"):
        venv.task("Cellpose Segmentation")


def _zattrs(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((path / ".zattrs").read_text())


@pytest.mark.slow
def test_synthetic_plate_has_expected_wells(synthetic_plate: SyntheticPlate) -> None:
    plate = Path(synthetic_plate.plate_url)
    meta = _zattrs(plate)["plate"]
    assert meta["name"] == "synth"
    assert sorted(w["path"] for w in meta["wells"]) == ["B/03", "B/05"]
    assert [a["id"] for a in meta["acquisitions"]] == [0]
    for url in synthetic_plate.image_urls:
        image = Path(url)
        attrs = _zattrs(image)
        axes = [axis["name"] for axis in attrs["multiscales"][0]["axes"]]
        assert axes == ["c", "z", "y", "x"]
        assert len(attrs["multiscales"][0]["datasets"]) == 1
        labels = [c["label"] for c in attrs["omero"]["channels"]]
        assert labels == ["DAPI", "GFP"]
        array = json.loads((image / "0" / ".zarray").read_text())
        assert array["shape"] == [2, 4, 64, 64] and array["dtype"] == "<u2"
        tables = _zattrs(image / "tables")["tables"]
        assert set(tables) >= {"FOV_ROI_table", "well_ROI_table"}
    for wavelength in ("A01_C01", "A01_C02"):
        assert (synthetic_plate.illum_profiles_dir / f"flat_{wavelength}.tif").is_file()


@pytest.mark.slow
def test_synthetic_plate_copies_are_private(
    synthetic_plate: SyntheticPlate, synthetic_plate_template: SyntheticPlate
) -> None:
    assert synthetic_plate.zarr_dir != synthetic_plate_template.zarr_dir
    (synthetic_plate.zarr_dir / "scratch").mkdir()
    assert not (synthetic_plate_template.zarr_dir / "scratch").exists()


@pytest.mark.slow
def test_real_import_runs_on_local_executor(
    fractal_tasks_core_venv: TaskVenv, synthetic_plate: SyntheticPlate, tmp_path: Path
) -> None:
    args_file = tmp_path / "non_par-args.json"
    args_file.write_text(
        json.dumps(
            {
                "zarr_dir": str(synthetic_plate.zarr_dir),
                "zarr_name": synthetic_plate.plate_name,
                "advanced_options": {"add_image_roi_table": True},
            }
        )
    )
    unit = WorkUnit(
        id="import",
        command=str(
            fractal_tasks_core_venv.commands("Import OME-Zarr")["non_parallel"]
        ),
        args_file=args_file,
        output_file=tmp_path / "non_par-metadiff.json",
        log_file=tmp_path / "non_par-log.txt",
    )
    with LocalExecutor() as executor:
        result = executor.submit([unit]).results()["import"]
    assert result.ok, result.failure
    updates = result.output["image_list_updates"]
    assert [u["zarr_url"] for u in updates] == synthetic_plate.image_urls
    assert [u["attributes"] for u in updates] == [
        {"plate": "synth.zarr", "well": "B03"},
        {"plate": "synth.zarr", "well": "B05"},
    ]
    assert all(u["types"] == {"is_3D": True} for u in updates)
