"""The testkit package builds, installs, and its scripts honour the CLI contract."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .testkit import InstalledTestkit

TASK_TYPES = {
    "converter_non_parallel",
    "converter_compound",
    "non_parallel",
    "parallel",
    "compound",
}


def test_manifest_covers_every_task_type(testkit: InstalledTestkit) -> None:
    types = {entry["type"] for entry in testkit.manifest["task_list"]}
    assert types == TASK_TYPES
    for entry in testkit.manifest["task_list"]:
        for key in ("executable_non_parallel", "executable_parallel"):
            if key in entry:
                assert (testkit.package_root / entry[key]).is_file()


def _run_script(testkit: InstalledTestkit, name: str, args: dict, tmp: Path) -> Path:
    command, _ = testkit.commands(name)
    assert command is not None
    args_file = tmp / "args.json"
    out_file = tmp / "out.json"
    args_file.write_text(json.dumps(args))
    argv = command.split() + [
        "--args-json",
        str(args_file),
        "--out-json",
        str(out_file),
    ]
    subprocess.run(argv, check=True, capture_output=True)
    return out_file


def test_create_images_writes_folders_and_output(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    zarr_dir = tmp_path / "zarr"
    out = _run_script(
        testkit, "create_images", {"zarr_dir": str(zarr_dir), "num_images": 3}, tmp_path
    )
    updates = json.loads(out.read_text())["image_list_updates"]
    assert [u["zarr_url"] for u in updates] == [
        f"{zarr_dir}/plate.zarr/A/0{i}/0" for i in (1, 2, 3)
    ]
    assert all(Path(u["zarr_url"]).is_dir() for u in updates)


def test_converter_write_nothing_leaves_no_output(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = _run_script(
        testkit, "converter_write_nothing", {"zarr_dir": str(tmp_path)}, tmp_path
    )
    assert not out.exists()
