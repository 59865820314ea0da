"""Every error path of the engine, with real task processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fractal_core.domain.workflow_task import WorkflowTask
from fractal_core.engine.errors import DuplicateZarrUrlError
from fractal_core.engine.errors import EmptyImageListError
from fractal_core.engine.errors import InvalidTaskRange
from fractal_core.engine.errors import JobExecutionError
from fractal_core.engine.errors import MissingImageError
from fractal_core.engine.errors import NewImageOutsideZarrDirError
from fractal_core.engine.errors import TaskOutputApplicationError
from fractal_core.engine.errors import TooManyParallelizationItems
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.runner import EngineSettings
from fractal_core.engine.runner import set_start_and_last_task_index
from fractal_core.images.errors import IncompatibleTypeFiltersError
from fractal_core.images.tools import IMAGE_STATUS_KEY

from .harness import Outcome
from .harness import run
from .testkit import InstalledTestkit


def three_images(kit: InstalledTestkit, tmp_path: Path) -> Outcome:
    out = run(
        kit, tmp_path, [("create_images", {"args_non_parallel": {"num_images": 3}})]
    )
    assert out.error is None
    return out


def then(
    kit: InstalledTestkit, tmp_path: Path, before: Outcome, steps: list, **kwargs
) -> Outcome:
    return run(
        kit,
        tmp_path,
        steps,
        dataset=before.dataset,
        recorder=before.recorder,
        job_dir_name=f"job{len(before.recorder.runs) + 1}",
        **kwargs,
    )


def test_partial_failure_applies_outputs_of_successful_units(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    urls = before.zarr_urls
    out = then(
        testkit,
        tmp_path,
        before,
        [("mark_image", {"args_parallel": {"copy_suffix": "_m", "fail_on": ["02/0"]}})],
    )
    assert isinstance(out.error, JobExecutionError)
    text = out.error.assemble_error()
    assert "Task failed with returncode=1" in text
    assert "mark_image failed on purpose" in text
    assert out.zarr_urls == urls + [f"{urls[0]}_m", f"{urls[2]}_m"]
    assert [u.status for u in out.units()] == ["done", "failed", "done"]
    assert out.runs()[-1].status == "failed"
    wft = out.runs()[-1].workflowtask_id
    assert out.recorder.image_status(1, wft) == {
        urls[0]: "done",
        urls[1]: "failed",
        urls[2]: "done",
    }


def test_partial_failure_with_null_outputs_touches_every_input(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    """Reference behaviour (spec weak point 7): failed images are touched too."""
    before = three_images(testkit, tmp_path)
    out = then(
        testkit,
        tmp_path,
        before,
        [("mark_image", {"args_parallel": {"fail_on": ["02/0"]}})],
    )
    assert isinstance(out.error, JobExecutionError)
    assert [img["types"] for img in out.images] == [{"3D": True, "marked": True}] * 3


def test_touching_only_successful_units_is_an_option(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    out = then(
        testkit,
        tmp_path,
        before,
        [("mark_image", {"args_parallel": {"fail_on": ["02/0"]}})],
        settings=EngineSettings(touch_only_successful_units=True),
    )
    assert isinstance(out.error, JobExecutionError)
    assert [img["types"] for img in out.images] == [
        {"3D": True, "marked": True},
        {"3D": True},
        {"3D": True, "marked": True},
    ]


def test_all_units_failed_changes_nothing(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    images = before.images
    out = then(
        testkit,
        tmp_path,
        before,
        [("mark_image", {"args_parallel": {"fail_on": ["/0"]}})],
    )
    assert isinstance(out.error, JobExecutionError)
    assert out.images == images


def test_compound_compute_failure_fails_every_unit(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    out = then(
        testkit,
        tmp_path,
        before,
        [("generic_compound", {"args_parallel": {"fail_indices": [1]}})],
    )
    assert isinstance(out.error, JobExecutionError)
    assert "raise_error for ind=1" in out.error.assemble_error()
    assert [u.status for u in out.units()] == ["failed"] * 4
    assert out.runs()[-1].status == "failed"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"output": {"foo": 1}}, ["Validation of task output failed", "foo"]),
        (
            {"output": {"image_list_updates": [{"zarr_url": "relative/path"}]}},
            ["image_list_updates.0.zarr_url", "relative/path"],
        ),
        ({"output": [1, 2]}, ["must be a JSON object"]),
        ({"raw_text": "{not json"}, ["not valid JSON"]),
    ],
)
def test_invalid_output_fails_the_unit(
    testkit: InstalledTestkit, tmp_path: Path, args: dict, expected: list[str]
) -> None:
    before = three_images(testkit, tmp_path)
    images = before.images
    out = then(
        testkit, tmp_path, before, [("emit_output", {"args_non_parallel": args})]
    )
    assert isinstance(out.error, JobExecutionError)
    text = out.error.assemble_error()
    for fragment in expected:
        assert fragment in text
    assert "non_par--metadiff.json" in text  # the message names the file
    assert [u.status for u in out.units()] == ["failed"]
    assert out.runs()[-1].status == "failed"
    assert out.images == images


def test_invalid_output_of_one_parallel_unit(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    urls = before.zarr_urls
    out = then(
        testkit,
        tmp_path,
        before,
        [
            (
                "emit_output_parallel",
                {
                    "args_parallel": {
                        "default_output": {"bad": 1},
                        "outputs": {urls[0]: None},
                    }
                },
            )
        ],
    )
    assert isinstance(out.error, JobExecutionError)
    assert [u.status for u in out.units()] == ["done", "failed", "failed"]


def test_invalid_init_output_fails_the_init_unit(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    out = then(
        testkit,
        tmp_path,
        before,
        [
            (
                "generic_compound",
                {
                    "args_non_parallel": {
                        "init_output": {"parallelization_list": [{"zarr_url": "x"}]}
                    }
                },
            )
        ],
    )
    assert isinstance(out.error, JobExecutionError)
    assert "Validation of init-task output failed" in out.error.assemble_error()
    assert [u.status for u in out.units()] == ["failed"]


@pytest.mark.parametrize("where", ["outside", "equal"])
def test_new_image_outside_zarr_dir(
    testkit: InstalledTestkit, tmp_path: Path, where: str
) -> None:
    before = three_images(testkit, tmp_path)
    images = before.images
    zarr_dir = before.dataset.zarr_dir
    url = "/invalid/my-new-image" if where == "outside" else zarr_dir
    output = {"image_list_updates": [{"zarr_url": url}]}
    out = then(
        testkit,
        tmp_path,
        before,
        [("emit_output", {"args_non_parallel": {"output": output}})],
    )
    assert isinstance(out.error, NewImageOutsideZarrDirError)
    assert isinstance(out.error, TaskOutputApplicationError)
    assert "Cannot create image if zarr_url is not a subfolder of zarr_dir" in str(
        out.error
    )
    assert zarr_dir in str(out.error)
    assert out.images == images
    assert [u.status for u in out.units()] == ["failed"]
    assert out.runs()[-1].status == "failed"


def test_sibling_folder_with_common_prefix_is_outside(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    url = before.dataset.zarr_dir + "2/img"  # string prefix, not a subfolder
    out = then(
        testkit,
        tmp_path,
        before,
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": {"image_list_updates": [{"zarr_url": url}]}
                    }
                },
            )
        ],
    )
    assert isinstance(out.error, NewImageOutsideZarrDirError)


def test_duplicate_zarr_urls_across_units(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    images = before.images
    urls = before.zarr_urls
    outputs = {
        urls[0]: {
            "image_list_updates": [{"zarr_url": urls[0], "attributes": {"a": 1}}]
        },
        urls[1]: {
            "image_list_updates": [{"zarr_url": urls[0], "attributes": {"a": 2}}]
        },
    }
    out = then(
        testkit,
        tmp_path,
        before,
        [("emit_output_parallel", {"args_parallel": {"outputs": outputs}})],
    )
    assert isinstance(out.error, DuplicateZarrUrlError)
    assert isinstance(out.error, ValueError)
    assert "has non-unique zarr_urls" in str(out.error) and urls[0] in str(out.error)
    assert out.images == images
    assert {u.status for u in out.units()} == {"failed"}


def test_update_and_removal_of_the_same_image(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    url = before.zarr_urls[0]
    output = {"image_list_updates": [{"zarr_url": url}], "image_list_removals": [url]}
    out = then(
        testkit,
        tmp_path,
        before,
        [("emit_output", {"args_non_parallel": {"output": output}})],
    )
    assert isinstance(out.error, DuplicateZarrUrlError)


def test_removal_of_a_missing_image(testkit: InstalledTestkit, tmp_path: Path) -> None:
    before = three_images(testkit, tmp_path)
    images = before.images
    missing = before.dataset.zarr_dir + "/missing"
    out = then(
        testkit,
        tmp_path,
        before,
        [("remove_images", {"args_non_parallel": {"more_zarr_urls": [missing]}})],
    )
    assert isinstance(out.error, MissingImageError)
    assert f"Cannot remove missing image (zarr_url={missing})." == str(out.error)
    assert out.images == images
    run_record = out.runs()[-1]
    assert run_record.status == "failed"
    assert run_record.num_available_images == 3
    assert [u.status for u in out.units()] == ["failed"]


def test_conflicting_type_filters(testkit: InstalledTestkit, tmp_path: Path) -> None:
    before = three_images(testkit, tmp_path)
    task = testkit.task("project_compound")  # input_types {"3D": True}
    wftask = WorkflowTask(task=task, order=1, type_filters={"3D": False})
    out = then(testkit, tmp_path, before, [wftask])
    assert isinstance(out.error, IncompatibleTypeFiltersError)
    assert isinstance(out.error, ValueError)
    assert len(out.runs()) == 1  # no run recorded for the failing task


def test_empty_image_list_fails_non_converter(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    out = then(
        testkit,
        tmp_path,
        before,
        [("mark_image", {})],
        job_attribute_filters={"well": ["Z99"]},
    )
    assert isinstance(out.error, EmptyImageListError)
    message = str(out.error)
    assert "Cannot run task 'mark_image' for an empty image list" in message
    assert "type_filters={'marked': False}" in message
    assert "attribute_filters={'well': ['Z99']}" in message
    run_record = out.runs()[-1]
    assert run_record.status == "failed"
    assert run_record.num_available_images == 3
    assert out.units() == []


def test_empty_image_list_old_behaviour_is_an_option(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [("mark_image", {}), ("emit_output", {})],
        settings=EngineSettings(fail_on_empty_image_list=False),
    )
    assert out.error is None
    runs = out.runs()
    assert out.recorder.units_of(runs[0].id) == []  # parallel: no units at all
    (unit,) = out.recorder.units_of(runs[1].id)  # non_parallel still runs
    assert unit.zarr_urls == [] and unit.status == "done"


def test_parallelization_limit_is_a_setting(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    out = then(
        testkit,
        tmp_path,
        before,
        [("mark_image", {})],
        settings=EngineSettings(max_parallelization_list_size=2),
    )
    assert isinstance(out.error, JobExecutionError)
    assert isinstance(out.error.__cause__, TooManyParallelizationItems)
    assert "Too many parallelization items" in out.error.assemble_error()
    assert out.runs()[-1].status == "failed"
    assert out.recorder.accounting_records[-1]["num_tasks"] == 0


def test_long_stderr_is_replaced_by_a_placeholder(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            (
                "emit_output_converter",
                {"args_non_parallel": {"exit_code": 1, "stderr_text": "x" * 100_100}},
            )
        ],
    )
    assert isinstance(out.error, JobExecutionError)
    text = out.error.assemble_error()
    assert "Cannot display stderr of length" in text
    assert len(text) < 10_000
    log = out.job_dir / "0_emit_output_converter" / "non_par--log.txt"
    assert "x" * 100_100 in log.read_text()


def test_failure_in_a_later_task_keeps_earlier_images(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 2}}),
            ("emit_output", {"args_non_parallel": {"exit_code": 3}}),
            ("mark_image", {}),
        ],
    )
    assert isinstance(out.error, JobExecutionError)
    assert "returncode=3" in out.error.assemble_error()
    assert len(out.images) == 2
    assert [r.status for r in out.runs()] == ["done", "failed"]


def test_non_executable_command(testkit: InstalledTestkit, tmp_path: Path) -> None:
    task = testkit.task("converter_write_nothing").model_copy(
        update={"command_non_parallel": str(tmp_path / "not-executable.sh")}
    )
    (tmp_path / "not-executable.sh").write_text("#!/bin/sh\necho hi\n")
    out = run(testkit, tmp_path, [WorkflowTask(task=task, order=0)])
    assert isinstance(out.error, JobExecutionError)
    assert "Hint: make sure that it is executable" in out.error.assemble_error()
    assert [u.status for u in out.units()] == ["failed"]


def test_status_based_selection_reruns_failed_images(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    before = three_images(testkit, tmp_path)
    urls = before.zarr_urls
    recorder: InMemoryRecorder = before.recorder
    step = WorkflowTask(
        id=7,
        task=testkit.task("emit_output_parallel"),
        order=1,
        args_parallel={"fail_for": [urls[1]]},
    )
    first = then(testkit, tmp_path, before, [step])
    assert isinstance(first.error, JobExecutionError)
    assert recorder.image_status(1, 7) == {
        urls[0]: "done",
        urls[1]: "failed",
        urls[2]: "done",
    }
    retry = step.model_copy(update={"args_parallel": {}})
    second = then(
        testkit,
        tmp_path,
        first,
        [retry],
        job_attribute_filters={IMAGE_STATUS_KEY: ["failed"]},
    )
    assert second.error is None
    assert [u.zarr_urls for u in second.units()] == [[urls[1]]]
    assert recorder.image_status(1, 7) == dict.fromkeys(urls, "done")
    assert all(IMAGE_STATUS_KEY not in img["attributes"] for img in second.images)


@pytest.mark.parametrize(
    ("args", "expected"),
    [((3, None, None), (0, 2)), ((3, 1, 1), (1, 1)), ((1, None, None), (0, 0))],
)
def test_task_range(args: tuple, expected: tuple) -> None:
    assert set_start_and_last_task_index(*args) == expected


@pytest.mark.parametrize(
    "args", [(0, None, None), (3, -1, None), (3, None, -1), (3, None, 3), (3, 2, 1)]
)
def test_invalid_task_range(args: tuple) -> None:
    with pytest.raises(InvalidTaskRange):
        set_start_and_last_task_index(*args)


@pytest.mark.parametrize(
    "filters",
    [{"well": "A01"}, {"well": []}, {"well": ["A01", 1]}, {"well": [None]}],
)
def test_bad_job_attribute_filters_are_refused_before_running(
    testkit: InstalledTestkit, tmp_path: Path, filters: dict
) -> None:
    from fractal_core.errors import FilterError

    out = run(testkit, tmp_path, [("create_images", {})], job_attribute_filters=filters)
    assert isinstance(out.error, FilterError)
    assert "well" in str(out.error)
    assert out.runs() == [] and not (out.job_dir / "0_create_images").exists()
