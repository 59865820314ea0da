"""Each task type end to end: real subprocesses from the installed testkit venv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import run
from .testkit import InstalledTestkit


def test_converter_non_parallel_creates_images(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            (
                "create_images",
                {"args_non_parallel": {"num_images": 2, "plate": "p.zarr"}},
            )
        ],
    )
    assert out.error is None
    zarr_dir = tmp_path / "zarr"
    assert out.images == [
        {
            "zarr_url": f"{zarr_dir}/p.zarr/A/0{i}/0",
            "origin": None,
            "attributes": {"well": f"A0{i}", "plate": "p.zarr"},
            "types": {"3D": True},
        }
        for i in (1, 2)
    ]
    assert all(Path(url).is_dir() for url in out.zarr_urls)
    # converters get no zarr_urls key; reserved keys first, then user args
    args = out.args_file("0_create_images")
    assert list(args) == ["zarr_dir", "num_images", "plate"]
    assert args["zarr_dir"] == str(zarr_dir)
    (run_record,) = out.runs()
    assert run_record.status == "done"
    assert run_record.num_available_images == 0
    (unit,) = out.units()
    assert unit.status == "done" and unit.zarr_urls == []
    assert unit.logfile == str(out.job_dir / "0_create_images" / "non_par--log.txt")
    assert out.recorder.accounting_records == [
        {"job_id": 1, "num_tasks": 1, "num_new_images": 2}
    ]


def test_converter_writing_nothing_is_a_valid_empty_output(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(testkit, tmp_path, [("converter_write_nothing", {})])
    assert out.error is None
    assert out.images == []
    log = (out.job_dir / "0_converter_write_nothing" / "non_par--log.txt").read_text()
    assert "stdout: hello" in log and "stderr: hello" in log
    assert not (
        out.job_dir / "0_converter_write_nothing" / "non_par--metadiff.json"
    ).exists()
    assert out.runs()[0].status == "done"


def test_non_parallel_receives_selected_zarr_urls_last(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 3}}),
            ("emit_output", {"args_non_parallel": {"output": None}}),
        ],
        job_attribute_filters={"well": ["A01", "A03"]},
    )
    assert out.error is None
    args = out.args_file("1_emit_output")
    assert list(args) == ["zarr_dir", "output", "zarr_urls"]
    assert args["zarr_urls"] == [out.zarr_urls[0], out.zarr_urls[2]]
    # null output: every input image is "touched" (no output_types here)
    assert out.runs()[1].num_available_images == 3
    status = out.recorder.image_status(1, out.runs()[1].workflowtask_id)
    assert status == {out.zarr_urls[0]: "done", out.zarr_urls[2]: "done"}


def test_parallel_null_output_applies_output_types(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 2}}),
            ("mark_image", {"args_parallel": {"sleep_time": 0}}),
        ],
    )
    assert out.error is None
    assert [img["types"] for img in out.images] == [{"3D": True, "marked": True}] * 2
    args = out.args_file("1_mark_image", "par-000000-0000001-args.json")
    assert args == {"zarr_url": out.zarr_urls[1], "sleep_time": 0}
    units = out.units()
    assert [u.zarr_urls for u in units] == [[u] for u in out.zarr_urls]
    assert [u.status for u in units] == ["done", "done"]
    assert out.recorder.accounting_records[-1]["num_tasks"] == 2


def test_parallel_copies_with_origin_inherit_attributes_and_types(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 2}}),
            ("mark_image", {"args_parallel": {"copy_suffix": "_m"}}),
        ],
    )
    assert out.error is None
    originals = out.zarr_urls[:2]
    assert out.zarr_urls == originals + [f"{u}_m" for u in originals]
    copy0 = out.images[2]
    assert copy0["origin"] == originals[0]
    assert copy0["attributes"] == {"well": "A01", "plate": "plate.zarr"}
    assert copy0["types"] == {"3D": True, "marked": True}
    # originals untouched (the task returned images, so no default touching)
    assert out.images[0]["types"] == {"3D": True}


def test_parallel_batches_follow_parallel_tasks_per_job(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 3}}),
            ("mark_image", {"meta_parallel": {"parallel_tasks_per_job": 2}}),
        ],
    )
    assert out.error is None
    names = sorted(p.name for p in (out.job_dir / "1_mark_image").glob("*-log.txt"))
    assert names == [
        "par-000000-0000000-log.txt",
        "par-000000-0000001-log.txt",
        "par-000001-0000002-log.txt",
    ]


def test_compound_full_workflow_and_type_filter_evolution(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images_compound", {"args_non_parallel": {"num_images": 2}}),
            ("project_compound", {}),
            ("mark_image", {}),
        ],
    )
    assert out.error is None
    zarr_dir = tmp_path / "zarr"
    raw = [f"{zarr_dir}/plate.zarr/A/0{i}/0" for i in (1, 2)]
    mip = [f"{zarr_dir}/plate_mip.zarr/A/0{i}/0" for i in (1, 2)]
    assert out.zarr_urls == raw + mip
    assert out.images[2] == {
        "zarr_url": mip[0],
        "origin": raw[0],
        "attributes": {"well": "A01", "plate": "plate_mip.zarr"},
        "types": {"3D": False, "marked": True},
    }
    # the raw images kept 3D=True and were not seen by mark_image
    assert [img["types"] for img in out.images[:2]] == [{"3D": True}] * 2
    runs = out.runs()
    assert [r.num_available_images for r in runs] == [0, 2, 2]
    assert [len(out.recorder.units_of(r.id)) for r in runs] == [3, 3, 2]
    assert all(r.status == "done" for r in runs)
    # compute units get init_args and user args, no zarr_dir
    compute_args = out.args_file("1_project_compound", "par-000000-0000001-args.json")
    assert list(compute_args) == ["zarr_url", "init_args"]
    assert compute_args["zarr_url"] == raw[1]
    init_args = out.args_file("1_project_compound")
    assert init_args == {"zarr_dir": str(zarr_dir), "zarr_urls": raw}
    # per-workflow-task status, as the reference's status view
    wft = runs[1].workflowtask_id
    assert out.recorder.workflow_task_status(1, wft) == {
        "status": "done",
        "num_available_images": 2,
        "num_submitted_images": 0,
        "num_done_images": 2,
        "num_failed_images": 0,
    }


def test_compound_repeated_items_and_duplicate_updates_are_merged(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    first = run(
        testkit, tmp_path, [("create_images", {"args_non_parallel": {"num_images": 2}})]
    )
    urls = first.zarr_urls
    same = {"zarr_url": urls[0], "attributes": {"seen": True}}
    outputs = {"0": {"image_list_updates": [same]}, "1": {"image_list_updates": [same]}}
    out = run(
        testkit,
        tmp_path,
        [
            (
                "generic_compound",
                {
                    "args_non_parallel": {"repeat": 2},
                    "args_parallel": {"outputs": outputs},
                },
            )
        ],
        dataset=first.dataset,
        job_dir_name="job2",
    )
    assert out.error is None
    assert out.images[0]["attributes"] == {
        "well": "A01",
        "plate": "plate.zarr",
        "seen": True,
    }
    # 1 init + 4 compute units (2 per image, same zarr_url)
    assert len(out.units()) == 5
    assert out.recorder.accounting_records[-1]["num_tasks"] == 5


def test_compound_empty_parallelization_list_touches_inputs(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    first = run(
        testkit, tmp_path, [("create_images", {"args_non_parallel": {"num_images": 1}})]
    )
    out = run(
        testkit,
        tmp_path,
        [("generic_compound", {"args_non_parallel": {"init_output": None}})],
        dataset=first.dataset,
        job_dir_name="job2",
    )
    assert out.error is None
    (unit,) = out.units()
    assert unit.status == "done"
    assert out.recorder.accounting_records[-1]["num_tasks"] == 1


def test_remove_and_unset_attribute(testkit: InstalledTestkit, tmp_path: Path) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 3}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "plate"}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "missing"}}),
        ],
    )
    assert out.error is None
    assert [img["attributes"] for img in out.images] == [
        {"well": f"A0{i}"} for i in (1, 2, 3)
    ]
    urls = out.zarr_urls
    removed = run(
        testkit,
        tmp_path,
        [("remove_images", {})],
        dataset=out.dataset,
        job_attribute_filters={"well": ["A02"]},
        job_dir_name="job2",
    )
    assert removed.error is None
    assert removed.zarr_urls == [urls[0], urls[2]]
    # cache rows of the removed image (for this workflow task) are gone
    wft = removed.runs()[-1].workflowtask_id
    assert removed.recorder.image_status(1, wft) == {}


def test_fractal_cache_dir_is_exported(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    from fractal_core.engine.runner import EngineSettings

    cache = tmp_path / "cache"
    out = run(
        testkit,
        tmp_path,
        [
            (
                "emit_output_converter",
                {"args_non_parallel": {"echo_env": ["FRACTAL_CACHE_DIR"]}},
            )
        ],
        settings=EngineSettings(fractal_cache_dir=cache),
    )
    assert out.error is None
    log = (out.job_dir / "0_emit_output_converter" / "non_par--log.txt").read_text()
    assert f"ENV FRACTAL_CACHE_DIR={cache}" in log


def test_fractal_cache_dir_defaults_to_the_user_cache(
    testkit: InstalledTestkit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no cache dir and no project dir the variable is still exported."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    out = run(
        testkit,
        tmp_path,
        [
            (
                "emit_output_converter",
                {"args_non_parallel": {"echo_env": ["FRACTAL_CACHE_DIR"]}},
            )
        ],
    )
    assert out.error is None
    log = (out.job_dir / "0_emit_output_converter" / "non_par--log.txt").read_text()
    assert f"ENV FRACTAL_CACHE_DIR={tmp_path / 'xdg' / 'fractal'}" in log


def test_unit_logs_with_warnings_are_flagged(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 3}}),
            ("mark_image", {"args_parallel": {"warn_on": ["02/0"]}}),
        ],
    )
    assert out.error is None
    assert [u.has_warnings for u in out.units()] == [False, True, False]
    assert out.recorder.num_units_with_warnings(out.runs()[-1].id) == 1


def test_args_file_is_compact_json(testkit: InstalledTestkit, tmp_path: Path) -> None:
    out = run(testkit, tmp_path, [("converter_write_nothing", {})])
    text = (
        out.job_dir / "0_converter_write_nothing" / "non_par--args.json"
    ).read_text()
    assert json.loads(text) == {"zarr_dir": str(tmp_path / "zarr")}


def test_stale_output_file_in_a_reused_folder_is_ignored(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    zarr_dir = tmp_path / "zarr"
    output = {"image_list_updates": [{"zarr_url": f"{zarr_dir}/img"}]}
    first = run(
        testkit,
        tmp_path,
        [("emit_output_converter", {"args_non_parallel": {"output": output}})],
    )
    assert first.zarr_urls == [f"{zarr_dir}/img"]
    second = run(
        testkit,
        tmp_path,
        [("emit_output_converter", {"args_non_parallel": {"write_file": False}})],
        zarr_dir=str(zarr_dir),
    )  # same job folder "job": the old metadiff file must not be read again
    assert second.error is None
    assert second.images == []


def test_domain_dataset_gets_the_new_image_list(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    from fractal_core.domain.dataset import Dataset
    from fractal_core.images.image_list import ImageList

    dataset = Dataset(id=3, name="ds", zarr_dir=str(tmp_path / "zarr"))
    out = run(
        testkit,
        tmp_path,
        [("create_images", {}), ("mark_image", {})],
        dataset=dataset,  # type: ignore[arg-type]
    )
    assert out.error is None
    assert isinstance(dataset.images, ImageList)
    assert [img["types"] for img in dataset.images] == [
        {"3D": True, "marked": True}
    ] * 2
    assert out.recorder.images_of(3) == dataset.images.to_list()
    dataset.images.add({"zarr_url": f"{tmp_path}/zarr/extra"})  # still usable
    with pytest.raises(ValueError):
        dataset.images.add({"zarr_url": "relative"})  # and still validating


def test_default_parallel_tasks_per_job_setting(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    from fractal_core.engine.runner import EngineSettings

    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 2}}),
            ("mark_image", {}),
        ],
        settings=EngineSettings(parallel_tasks_per_job=1),
    )
    assert out.error is None
    names = sorted(p.name for p in (out.job_dir / "1_mark_image").glob("*-log.txt"))
    assert names == ["par-000000-0000000-log.txt", "par-000001-0000001-log.txt"]
