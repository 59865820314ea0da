"""Large parallelisation lists: many units through the local executor.

A parallel task of a few hundred real `true` processes runs to the end with
the cap raised (and is refused with it one lower, before any file is
written); each unit's argument file holds its own zarr_url; unit file names
with the shared task subfolder equal the freshly computed ones; and the job
folder zips small and large files alike (the small-file path).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from fractal_core.engine.errors import TooManyParallelizationItems
from fractal_core.engine.task_files import TaskFiles
from fractal_core.engine.task_files import multisubmit_task_files
from fractal_core.engine.zipping import zip_folder

from .harness import trivial_parallel_job

N_UNITS = 300


def _job(tmp_path: Path, cap: int) -> tuple[object, Path]:
    return trivial_parallel_job(tmp_path, N_UNITS, cap), tmp_path / "job"


def test_hundreds_of_units_run_when_the_cap_allows_them(tmp_path: Path) -> None:
    outcome, job_dir = _job(tmp_path, cap=N_UNITS)
    assert outcome.status == "done", outcome.log  # type: ignore[attr-defined]
    images = outcome.images  # type: ignore[attr-defined]
    assert len(images.filter_zarr_urls({"done": True})) == N_UNITS
    with zipfile.ZipFile(job_dir.with_name("job.zip")) as zf:
        names = zf.namelist()
        args = sorted(n for n in names if n.endswith("-args.json"))
        assert len(args) == N_UNITS
        first = json.loads(zf.read(args[0]))
        last = json.loads(zf.read(args[-1]))
    assert first["zarr_url"].endswith("/zarr/0")
    assert last["zarr_url"].endswith(f"/zarr/{N_UNITS - 1}")


def test_one_unit_over_the_cap_is_refused_before_any_file(tmp_path: Path) -> None:
    outcome, job_dir = _job(tmp_path, cap=N_UNITS - 1)
    assert outcome.status == "failed"  # type: ignore[attr-defined]
    error = outcome.error  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, TooManyParallelizationItems)
    with zipfile.ZipFile(job_dir.with_name("job.zip")) as zf:
        assert not [n for n in zf.namelist() if n.endswith("-args.json")]


@pytest.mark.parametrize("batch", [None, 7])
def test_unit_files_share_the_subfolder_and_equal_fresh_ones(
    tmp_path: Path, batch: int | None
) -> None:
    base = TaskFiles(
        root_dir_local=tmp_path / "local",
        root_dir_remote=Path("/remote/job"),
        task_name="My Task!",
        task_order=3,
    )
    files = multisubmit_task_files(base, tot_tasks=20, batch_size=batch)
    for i, unit in enumerate(files):
        fresh = TaskFiles(
            root_dir_local=base.root_dir_local,
            root_dir_remote=base.root_dir_remote,
            task_name=base.task_name,
            task_order=base.task_order,
            prefix=unit.prefix,
            component=f"{i:07d}",
        )
        for name in ("args_file_local", "log_file_local", "metadiff_file_remote"):
            assert getattr(unit, name) == getattr(fresh, name)
    assert files[0].wftask_subfolder_local is files[-1].wftask_subfolder_local


def test_zip_holds_small_and_large_files_byte_for_byte(tmp_path: Path) -> None:
    folder = tmp_path / "job"
    (folder / "1_task").mkdir(parents=True)
    large = bytes(range(256)) * (6 * 1024)  # 1.5 MiB: the streamed path
    (folder / "1_task" / "big.bin").write_bytes(large)
    for i in range(50):
        (folder / "1_task" / f"par-{i:07d}-args.json").write_text(f'{{"i": {i}}}')
    (folder / "empty.txt").write_bytes(b"")
    target = zip_folder(folder, threshold_mb=1000)
    assert target is not None
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        assert zf.read("1_task/big.bin") == large
        assert zf.read("1_task/par-0000049-args.json") == b'{"i": 49}'
        assert zf.read("empty.txt") == b""
        assert len(zf.namelist()) == 52
