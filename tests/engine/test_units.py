"""Pure parts of the engine: file names, arguments, output validation and merge."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fractal_core.engine.arguments import compute_unit_args
from fractal_core.engine.arguments import non_parallel_args
from fractal_core.engine.arguments import parallel_unit_args
from fractal_core.engine.errors import DuplicateZarrUrlError
from fractal_core.engine.errors import JobExecutionError
from fractal_core.engine.errors import TaskOutputValidationError
from fractal_core.engine.outputs import TaskOutput
from fractal_core.engine.outputs import deduplicate_list
from fractal_core.engine.outputs import merge_outputs
from fractal_core.engine.outputs import validate_init_task_output
from fractal_core.engine.outputs import validate_task_output
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.recorder import NewUnit
from fractal_core.engine.runner import default_fractal_cache_dir
from fractal_core.engine.selection import effective_type_filters
from fractal_core.engine.task_files import TaskFiles
from fractal_core.engine.task_files import job_folder_path
from fractal_core.engine.task_files import multisubmit_task_files
from fractal_core.engine.task_files import task_subfolder_name
from fractal_core.images.errors import IncompatibleTypeFiltersError


def test_task_subfolder_names() -> None:
    assert task_subfolder_name(1, "MIP_compound") == "1_mip_compound"
    assert task_subfolder_name(None, "Create OME-Zarr") == "0_create_ome_zarr"


def test_job_folder_is_nested_by_month() -> None:
    path = job_folder_path(
        Path("/jobs"),
        project_id=1,
        workflow_id=22,
        job_id=333,
        start=datetime(2026, 3, 4, 5, 6, 7),
    )
    assert path == Path(
        "/jobs/2026-03/proj_v2_0000001_wf_0000022_job_0000333_20260304_050607"
    )


def test_unit_file_names(tmp_path: Path) -> None:
    base = TaskFiles(
        root_dir_local=tmp_path, root_dir_remote=Path("/r"), task_name="T", task_order=2
    )
    assert base.args_file_local == tmp_path / "2_t" / "non_par--args.json"
    assert base.log_file_remote == Path("/r/2_t/non_par--log.txt")
    files = multisubmit_task_files(base, tot_tasks=3, batch_size=None)
    assert [f.metadiff_file_local.name for f in files] == [
        f"par-000000-000000{i}-metadiff.json" for i in range(3)
    ]
    files = multisubmit_task_files(base, tot_tasks=3, batch_size=2)
    assert [f.prefix_component for f in files] == [
        "par-000000-0000000",
        "par-000000-0000001",
        "par-000001-0000002",
    ]


def test_argument_dictionaries_key_order() -> None:
    args = non_parallel_args(zarr_dir="/z", user_args={"a": 1}, zarr_urls=["/z/x"])
    assert list(args.items()) == [("zarr_dir", "/z"), ("a", 1), ("zarr_urls", ["/z/x"])]
    assert non_parallel_args(zarr_dir="/z", user_args=None, zarr_urls=None) == {
        "zarr_dir": "/z"
    }
    assert list(parallel_unit_args(zarr_url="/z/x", user_args={"b": 2})) == [
        "zarr_url",
        "b",
    ]
    assert list(
        compute_unit_args(zarr_url="/z/x", init_args={"i": 0}, user_args={})
    ) == [
        "zarr_url",
        "init_args",
    ]


def test_output_normalisation_and_errors() -> None:
    out = validate_task_output(
        {"image_list_updates": [{"zarr_url": "/a/b//", "extra_key": 1}]}
    )
    assert out.image_list_updates[0].zarr_url == "/a/b"  # extra keys in images ignored
    with pytest.raises(TaskOutputValidationError, match="out.json") as info:
        validate_task_output(
            {"image_list_updates": [{"zarr_url": "/a/../b"}]}, "out.json"
        )
    assert "image_list_updates.0.zarr_url" in str(info.value)
    with pytest.raises(TaskOutputValidationError, match="attributes"):
        validate_task_output(
            {"image_list_updates": [{"zarr_url": "/a", "attributes": {"k": [1]}}]}
        )
    with pytest.raises(TaskOutputValidationError, match="init-task output"):
        validate_init_task_output(
            {"parallelization_list": [{"zarr_url": "/a", "x": 1}]}
        )
    assert validate_init_task_output({}).parallelization_list == []


def test_merge_outputs_order_and_dedup() -> None:
    merged = merge_outputs(
        [
            TaskOutput(
                image_list_updates=[{"zarr_url": "/a"}, {"zarr_url": "/b"}],
                image_list_removals=["/x", "/y"],
            ),
            TaskOutput(
                image_list_updates=[{"zarr_url": "/c"}, {"zarr_url": "/a"}],
                image_list_removals=["/y"],
            ),
        ]
    )
    assert [u["zarr_url"] for u in merged.image_list_updates] == ["/a", "/b", "/c"]
    assert merged.image_list_removals == ["/x", "/y"]
    merged.check_zarr_urls_are_unique()


def test_non_unique_zarr_urls_message() -> None:
    out = TaskOutput(
        image_list_updates=[
            {"zarr_url": "/a", "attributes": {"k": 1}},
            {"zarr_url": "/a"},
        ],
        image_list_removals=["/b", "/b"],
    )
    with pytest.raises(DuplicateZarrUrlError) as info:
        out.check_zarr_urls_are_unique()
    message = str(info.value)
    assert message.startswith(
        "TaskOutput (2 image_list_updates and 2 image_list_removals) has non-unique"
    )
    assert message.splitlines()[1:] == ["/a", "/b"]
    assert isinstance(info.value, ValueError) and isinstance(
        info.value, JobExecutionError
    )


def test_deduplicate_list_keeps_first_and_uses_value_equality() -> None:
    items = [{"a": 1, "b": [1, {"c": 2}]}, {"b": [1, {"c": 2}], "a": 1}, {"a": 2}]
    assert deduplicate_list(items) == [items[0], items[2]]


def test_effective_type_filters_do_not_mutate() -> None:
    task_types = {"3D": True}
    filters = effective_type_filters({"x": True, "3D": False}, task_types, {"y": False})
    assert filters == {"x": True, "3D": True, "y": False}
    assert task_types == {"3D": True}
    with pytest.raises(IncompatibleTypeFiltersError):
        effective_type_filters({}, {"3D": True}, {"3D": False})


def test_default_cache_dir() -> None:
    assert default_fractal_cache_dir(["/home/u/p", "/other"]) == Path(
        "/home/u/p/fractal/.fractal_cache"
    )
    with pytest.raises(ValueError):
        default_fractal_cache_dir([])


def test_workflow_task_status_counters() -> None:
    rec = InMemoryRecorder()
    run_id = rec.run_started(
        dataset_id=1,
        workflowtask_id=9,
        job_id=1,
        task_id=None,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=3,
    )
    ids = rec.units_created(
        run_id, [NewUnit(f"/log{i}", [f"/z/{i}"]) for i in range(3)]
    )
    rec.image_cache_set(
        dataset_id=1,
        workflowtask_id=9,
        latest_unit={f"/z/{i}": ids[i] for i in range(3)},
    )
    rec.units_finished([ids[1]], "done", {ids[1]: True})
    rec.units_finished([ids[2]], "failed")
    status = rec.workflow_task_status(1, 9)
    assert status == {
        "status": "submitted",
        "num_available_images": 3,
        "num_submitted_images": 1,
        "num_done_images": 1,
        "num_failed_images": 1,
    }
    rec.runs[run_id].num_available_images = 2
    assert rec.workflow_task_status(1, 9)["num_available_images"] is None
    assert rec.workflow_task_status(1, 10) is None
    assert rec.image_status(1, 9, ["/z/0", "/z/new"]) == {
        "/z/0": "submitted",
        "/z/new": "unset",
    }
    assert rec.num_units_with_warnings(run_id) == 1


def test_s3_images_are_created_only_under_an_s3_zarr_dir() -> None:
    from fractal_core.engine.apply import apply_task_output
    from fractal_core.engine.errors import NewImageOutsideZarrDirError
    from fractal_core.engine.fast_output import parse_task_output

    output = parse_task_output(
        {"image_list_updates": [{"zarr_url": "s3://bkt/z/img/"}]}
    )
    applied = apply_task_output({}, output, zarr_dir="s3://bkt/z", output_types={})
    assert list(applied.images) == ["s3://bkt/z/img"]
    for zarr_dir in ("/bkt/z", "s3://bkt/z/img", "s3://bkt/zz"):
        with pytest.raises(NewImageOutsideZarrDirError):
            apply_task_output({}, output, zarr_dir=zarr_dir, output_types={})
