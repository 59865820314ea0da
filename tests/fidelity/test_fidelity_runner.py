"""Whole workflows side by side: our engine vs fractal-server 2.17.0's runner.

Every scenario (testkit tasks, see tests/task_packages/fractal_tasks_testkit)
runs once through `fractal_core.engine.run_job` with a `LocalExecutor` and once
through the reference's `submit_workflow` with its local runner, against a
private PostgreSQL server (`postgres.py`; skipped when PostgreSQL is not
installed). Compared: the final image list (order and content), the job status
and the essentials of its log, the history runs and units (status, inputs,
available images) and the per-image status of every workflow task.

Documented deliberate differences (docs/engine.md) are encoded per scenario.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from engine.testkit import InstalledTestkit
from engine.testkit import install_testkit

from .postgres import PostgresSettings
from .postgres import PostgresUnavailable
from .postgres import private_postgres
from .venv_cache import cached_venv
from .workflow_sides import Scenario
from .workflow_sides import create_schema
from .workflow_sides import run_ours
from .workflow_sides import run_reference

pytestmark = pytest.mark.slow

FRACTAL_SERVER_VERSION = "2.17.0"


def _image(well: str, **attributes: Any) -> dict[str, Any]:
    return {
        "zarr_url": f"ZARR/plate.zarr/A/{well}/0",
        "origin": None,  # stored images are complete, as the API writes them
        "attributes": {"well": f"A{well}", **attributes},
        "types": {"3D": True},
    }


THREE_IMAGES = [_image("01"), _image("02", flag=1), _image("03", flag=2)]
CREATE = ("create_images", {"args_non_parallel": {"num_images": 3}})

STATUS_KEY = "__wftask_dataset_image_status__"  # the reference's IMAGE_STATUS_KEY
A02 = "ZARR/plate.zarr/A/02/0"


def _update_a01(**attributes: Any) -> dict[str, Any]:
    return {
        "image_list_updates": [
            {"zarr_url": "ZARR/plate.zarr/A/01/0", "attributes": attributes}
        ]
    }


SAME_UPDATE = _update_a01(x=1)
EMPTY_SELECTION = "empty_selection_fails_like_2_17_1"
OUTSIDE_ZARR_DIR = "new_image_outside_zarr_dir"
INVALID_INIT_ITEM = "compound_init_invalid_item"
REMOVE_MISSING = "remove_missing_image"
UPDATE_AND_REMOVE = "update_and_remove_same_image"
# docs/engine.md "Where we fix the reference": every run and unit ends `done` or
# `failed`; 2.17.0 leaves them `submitted` after an output-application error or
# an invalid init output.
RUNS_END = {OUTSIDE_ZARR_DIR, INVALID_INIT_ITEM, REMOVE_MISSING, UPDATE_AND_REMOVE}

SCENARIOS: list[Scenario] = [
    Scenario(
        "converter_non_parallel",
        [
            (
                "create_images",
                {
                    "args_non_parallel": {
                        "num_images": 3,
                        "attributes": {"tag": "x"},
                        "types": {"raw": True},
                    }
                },
            )
        ],
    ),
    Scenario(
        "converter_then_parallel_in_place",
        [CREATE, ("mark_image", {"meta_parallel": {"parallel_tasks_per_job": 2}})],
    ),
    Scenario(
        "converter_compound",
        [("create_images_compound", {"args_non_parallel": {"num_images": 3}})],
    ),
    Scenario(
        "non_parallel_unset_attribute_with_none",
        [("unset_attribute", {"args_non_parallel": {"attribute": "flag"}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "parallel_copies_with_origin",
        [("mark_image", {"args_parallel": {"copy_suffix": "_copy"}})],
        images=THREE_IMAGES,
    ),
    Scenario("compound_projection_with_origin", [CREATE, ("project_compound", {})]),
    Scenario(
        "removals",
        [
            (
                "remove_images",
                {"args_non_parallel": {"more_zarr_urls": ["ZARR/plate.zarr/A/03/0"]}},
            )
        ],
        images=THREE_IMAGES,
        attribute_filters={"well": ["A01"]},
    ),
    Scenario(
        "parallel_fails_on_some_units",
        [("mark_image", {"args_parallel": {"fail_on": ["A/02/0"]}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "parallel_fails_with_outputs_applied",
        [("mark_image", {"args_parallel": {"copy_suffix": "_c", "fail_on": ["3/0"]}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "compound_fails_on_some_units",
        [
            (
                "generic_compound",
                {
                    "args_parallel": {
                        "fail_indices": [1],
                        "outputs": {
                            "0": {
                                "image_list_updates": [
                                    {
                                        "zarr_url": "ZARR/plate.zarr/A/01/0",
                                        "attributes": {"done": True},
                                    }
                                ]
                            }
                        },
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "invalid_output_json",
        [("emit_output", {"args_non_parallel": {"raw_text": "{not json"}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "invalid_output_schema",
        [
            (
                "emit_output",
                {"args_non_parallel": {"output": {"image_list_updates": [{"x": 1}]}}},
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        OUTSIDE_ZARR_DIR,
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": {
                            "image_list_updates": [{"zarr_url": "/elsewhere/new.zarr"}]
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "failing_non_parallel_task",
        [
            CREATE,
            (
                "emit_output",
                {"args_non_parallel": {"exit_code": 3, "stderr_text": "boom\n"}},
            ),
        ],
    ),
    Scenario(
        "type_filters_evolve_across_tasks",
        [
            # project_compound selects 3D images (input_types) and outputs 2D
            # ones; the running filters then hold 3D=False, so mark_image sees
            # the projections only, and its output_types (marked=True) narrow
            # what unset_attribute sees.
            CREATE,
            ("project_compound", {}),
            ("mark_image", {"type_filters": {"3D": False}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "plate"}}),
        ],
    ),
    Scenario(
        "reruns_selected_by_image_status",
        [("emit_output_parallel", {"args_parallel": {"fail_for": [A02]}})],
        images=THREE_IMAGES,
        reruns=[
            {"attribute_filters": {STATUS_KEY: ["done"]}},
            {"attribute_filters": {STATUS_KEY: ["failed"], "flag": [1, 2]}},
        ],
    ),
    Scenario(
        "rerun_slice_uses_statuses_of_its_first_task",
        [
            ("emit_output_parallel", {"args_parallel": {"fail_for": [A02]}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "flag"}}),
        ],
        images=THREE_IMAGES,
        reruns=[
            {"attribute_filters": {STATUS_KEY: ["unset"]}, "first_task_index": 1},
            {"attribute_filters": {STATUS_KEY: ["failed", "unset"]}},
        ],
    ),
    Scenario(
        "converter_compound_partial_failure",
        [
            (
                "create_images_compound",
                {
                    "args_non_parallel": {"num_images": 3},
                    "args_parallel": {"fail_indices": [1]},
                },
            )
        ],
    ),
    Scenario(
        "compound_init_fails",
        [("generic_compound", {"args_non_parallel": {"fail": True}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "compound_init_empty_list",
        [
            (
                "generic_compound",
                {"args_non_parallel": {"init_output": {"parallelization_list": []}}},
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        INVALID_INIT_ITEM,
        [
            (
                "generic_compound",
                {
                    "args_non_parallel": {
                        "init_output": {"parallelization_list": [{"x": 1}]}
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "duplicate_identical_updates_merged",
        [("emit_output_parallel", {"args_parallel": {"default_output": SAME_UPDATE}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "conflicting_updates_of_one_image",
        [
            (
                "emit_output_parallel",
                {
                    "args_parallel": {
                        "outputs": {
                            f"ZARR/plate.zarr/A/{well}/0": _update_a01(value=well)
                            for well in ("01", "02")
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        REMOVE_MISSING,
        [
            (
                "remove_images",
                {"args_non_parallel": {"more_zarr_urls": ["ZARR/plate.zarr/B/09/0"]}},
            )
        ],
        images=THREE_IMAGES,
        attribute_filters={"well": ["A01"]},
    ),
    Scenario(
        UPDATE_AND_REMOVE,
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": {
                            "image_list_updates": [
                                {"zarr_url": "ZARR/plate.zarr/A/01/0"}
                            ],
                            "image_list_removals": ["ZARR/plate.zarr/A/01/0"],
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "new_images_with_origin_trailing_slash_and_types",
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": {
                            "image_list_updates": [
                                {
                                    "zarr_url": "ZARR/plate.zarr/A/01/0_new/",
                                    "origin": "ZARR/plate.zarr/A/01/0/",
                                    "types": {"new": True},
                                    "attributes": {"extra": 3.5},
                                },
                                {
                                    "zarr_url": "ZARR/plate.zarr/A/02/0",
                                    "origin": "ZARR/plate.zarr/A/03/0",
                                    "types": {"3D": False},
                                    "attributes": {"flag": None, "well": "B"},
                                },
                            ]
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "converter_writes_nothing",
        [("converter_write_nothing", {})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "non_parallel_empty_output_touches_inputs",
        [("emit_output", {"args_non_parallel": {"output": {}}})],
        images=THREE_IMAGES,
        type_filters={"3D": True},
    ),
    Scenario(
        "converter_rerun_updates_existing_images",
        [
            (
                "create_images",
                {"args_non_parallel": {"num_images": 2, "attributes": {"run": 1}}},
            )
        ],
        images=[_image("02", flag=1), _image("07")],
        reruns=[{}],
    ),
    Scenario(
        "new_image_with_unknown_origin",
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": {
                            "image_list_updates": [
                                {
                                    "zarr_url": "ZARR/other.zarr/0",
                                    "origin": "ZARR/nowhere.zarr/0",
                                    "attributes": {"a": "b"},
                                }
                            ]
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "invalid_attribute_value_in_output",
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": _update_a01(bad=[1, 2]),
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "attribute_filter_values_compare_like_python",
        [("mark_image", {"args_parallel": {"copy_suffix": "_f"}})],
        images=[_image("01", flag=1), _image("02", flag=1.0), _image("03", flag=True)],
        attribute_filters={"flag": [True]},
    ),
    Scenario(
        "compound_items_beyond_inputs",
        [
            (
                "generic_compound",
                {
                    "args_non_parallel": {
                        "init_output": {
                            "parallelization_list": [
                                {
                                    "zarr_url": "ZARR/plate.zarr/A/03/0",
                                    "init_args": {"ind": 0},
                                },
                                {
                                    "zarr_url": "ZARR/other.zarr/0",
                                    "init_args": {"ind": 1},
                                },
                            ]
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "parallel_unit_removes_its_image",
        [
            (
                "emit_output_parallel",
                {
                    "args_parallel": {
                        "outputs": {A02: {"image_list_removals": [A02]}},
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "failing_first_converter",
        [("emit_output_converter", {"args_non_parallel": {"exit_code": 1}})],
        images=THREE_IMAGES,
    ),
    Scenario(
        "many_parallel_units_keep_order",
        [
            (
                "mark_image",
                {
                    "args_parallel": {"copy_suffix": "_m"},
                    "meta_parallel": {"parallel_tasks_per_job": 3},
                },
            )
        ],
        images=[_image(f"{ind:02d}", n=ind) for ind in range(12, 0, -1)],
    ),
    Scenario(
        "task_input_types_override_job_type_filters",
        [
            CREATE,
            ("project_compound", {"type_filters": {"raw": False}}),
        ],
        type_filters={"3D": False},
    ),
    Scenario(
        "non_parallel_null_and_missing_output_files",
        [
            ("emit_output", {"args_non_parallel": {"output": None}}),
            ("emit_output", {"args_non_parallel": {"write_file": False}}),
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "parallel_mixed_outputs_and_unreadable_json",
        [
            (
                "emit_output_parallel",
                {
                    "args_parallel": {
                        "no_file_for": ["ZARR/plate.zarr/A/01/0"],
                        "raw_text_for": ["ZARR/plate.zarr/A/03/0"],
                        "outputs": {A02: _update_a01(seen=2)},
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "compound_repeated_items_partial_failure",
        [
            (
                "generic_compound",
                {
                    "args_non_parallel": {"repeat": 2},
                    "args_parallel": {"fail_indices": [1, 4]},
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "converter_compound_units_create_the_same_image",
        [
            (
                "generic_converter_compound",
                {
                    "args_non_parallel": {
                        "init_output": {
                            "parallelization_list": [
                                {
                                    "zarr_url": "ZARR/new.zarr/0",
                                    "init_args": {"ind": 0},
                                },
                                {
                                    "zarr_url": "ZARR/new.zarr/0",
                                    "init_args": {"ind": 1},
                                },
                            ]
                        }
                    },
                    "args_parallel": {
                        "outputs": {
                            str(ind): {
                                "image_list_updates": [
                                    {
                                        "zarr_url": "ZARR/new.zarr/0",
                                        "types": {"t": True},
                                    }
                                ]
                            }
                            for ind in (0, 1)
                        }
                    },
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "attribute_filter_on_missing_attribute_and_last_index_only",
        [
            ("mark_image", {"args_parallel": {"copy_suffix": "_x"}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "well"}}),
        ],
        images=THREE_IMAGES,
        attribute_filters={"flag": [2, 3]},
        last_task_index=0,
    ),
    Scenario(
        "new_images_chained_origins_and_none_attributes",
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "output": {
                            "image_list_updates": [
                                {
                                    "zarr_url": "ZARR/chain/1",
                                    "origin": A02,
                                    "attributes": {"flag": None, "step": 1},
                                    "types": {"c": True},
                                },
                                {
                                    "zarr_url": "ZARR/chain/2",
                                    "origin": "ZARR/chain/1",
                                    "attributes": {"step": 2, "well": None},
                                },
                                {
                                    "zarr_url": A02,
                                    "attributes": {"flag": None, "x": False},
                                    "types": {"3D": False},
                                },
                            ]
                        }
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "slice_starts_from_job_type_filters_only",
        [
            ("project_compound", {}),
            ("mark_image", {"args_parallel": {"copy_suffix": "_s"}}),
        ],
        images=[
            _image("01"),
            {**_image("02"), "types": {"3D": False}},
            {**_image("03"), "types": {"3D": True, "marked": True}},
        ],
        first_task_index=1,
    ),
    Scenario(
        "output_types_override_job_type_filters",
        [
            ("mark_image", {}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "flag"}}),
        ],
        images=[
            _image("01", flag=0),
            {**_image("02", flag=1), "types": {"marked": True}},
            _image("03", flag=2),
        ],
        type_filters={"marked": False},
    ),
    Scenario(
        "failure_with_long_non_ascii_stderr",
        [
            (
                "emit_output",
                {
                    "args_non_parallel": {
                        "exit_code": 2,
                        "stderr_text": "ünïcödé line\n" * 400 + "last words",
                    }
                },
            )
        ],
        images=THREE_IMAGES,
    ),
    Scenario(
        "empty_selection_2_17_0_compatible",
        [CREATE, ("mark_image", {"type_filters": {"3D": False}})],
        settings={"fail_on_empty_image_list": False},
    ),
    Scenario(
        EMPTY_SELECTION,
        [CREATE, ("mark_image", {"type_filters": {"3D": False}})],
    ),
    Scenario(
        "job_attribute_and_type_filters",
        [("mark_image", {"args_parallel": {"copy_suffix": "_sel"}})],
        images=THREE_IMAGES,
        attribute_filters={"well": ["A01", "A03"]},
        type_filters={"3D": True},
    ),
    Scenario(
        "first_last_task_index_slice",
        [
            CREATE,
            ("mark_image", {"args_parallel": {"copy_suffix": "_one"}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "well"}}),
        ],
        images=THREE_IMAGES,
        first_task_index=1,
        last_task_index=1,
    ),
]

_NORMALISE_LOG = [
    (re.compile(r"Fractal job \d+"), "Fractal job <ID>"),
    (re.compile(r"errors\.pydantic\.dev/[\d.]+/"), "errors.pydantic.dev/<V>/"),
    # Deliberate (docs/engine.md "Where we fix the reference"): our invalid-output
    # messages name the unit's output file; the rest is the reference's text.
    (re.compile(r" \(output file: [^)]*\)"), ""),
    (re.compile(r"Output file \S+ is not valid JSON: "), ""),
]


def canonical(value: Any) -> str:
    """JSON text with sorted keys: list order and value types count."""
    return json.dumps(value, sort_keys=True)


def log_essentials(log: str | None) -> str:
    """A failed job's log without job ids, library versions and file mentions."""
    assert log is not None
    for pattern, replacement in _NORMALISE_LOG:
        log = pattern.sub(replacement, log)
    return log.strip()


_LOG_LINE = re.compile(r"^[\d-]+ [\d:,]+ - WF\w+_job\d+ - (\w+) - (.*)$")
_TASK_DESCRIPTION = re.compile(r"(\d+)-th task (\(name=\"[^\"]*\"\)|\(.*\))$")
# Lines naming the server's version or its resource/profile (no such thing here).
_SERVER_ONLY = ("fractal_server.__VERSION__", "fractal_core version", "Resource name")
_SERVER_ONLY += ("Profile name", "Username")


def log_skeleton(log: str | None) -> list[str]:
    """A successful job's `workflow.log` as `LEVEL message`, without timestamps.

    Dropped: version/resource/profile lines. Task descriptions become
    `<order>-th task <task>`: docs/engine.md "Where we behave like a newer
    release" (2.19.2 describes tasks by alias, name, package and version).
    """
    assert log is not None
    skeleton = []
    for line in log.splitlines():
        match = _LOG_LINE.match(line)
        assert match, f"unexpected log line {line!r}"
        level, message = match.groups()
        if message.startswith(_SERVER_ONLY):
            continue
        message = re.sub(r"jobs/job-[\w-]+", "jobs/<JOB>", message)
        message = re.sub(r"^job\.id: \d+$", "job.id: <ID>", message)
        message = _TASK_DESCRIPTION.sub(r"\1-th task <task>", message)
        skeleton.append(f"{level} {message}")
    return skeleton


def expected_from_reference(scenario: Scenario, ref: dict[str, Any]) -> dict[str, Any]:
    """The reference's result with our documented deliberate differences applied."""
    name = scenario.name
    expected = copy.deepcopy(ref)
    if name in RUNS_END:
        run = expected["runs"][-1]
        assert "submitted" in json.dumps(run), run
        expected["runs"][-1] = json.loads(
            json.dumps(run).replace("submitted", "failed")
        )
        expected["image_status"] = {
            position: {
                url: "failed" if status == "submitted" else status
                for url, status in statuses.items()
            }
            for position, statuses in expected["image_status"].items()
        }
    for run in expected["runs"]:
        if STATUS_KEY in scenario.jobs()[run["job"]]["attribute_filters"]:
            # docs/engine.md "Where we fix the reference": status-based selection
            # keeps the dataset's order (here: sorted); 2.17.0 groups the images
            # by status first.
            for unit in run["units"]:
                unit["zarr_urls"] = sorted(unit["zarr_urls"])
    if name == EMPTY_SELECTION:
        # docs/engine.md "Where we behave like a newer release": a non-converter
        # task with an empty selected image list fails the job (2.17.1); 2.17.0
        # runs it with no units and ends `done`.
        assert expected["jobs"][0]["status"] == "done"
        assert expected["runs"][-1] == {
            "job": 0,
            "position": 1,
            "status": "done",
            "num_available_images": 0,
            "units": [],
        }
        expected["jobs"][0]["status"] = "failed"
        expected["runs"][-1]["status"] = "failed"
    return expected


BY_NAME = {s.name: s for s in SCENARIOS}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresSettings]:
    """A private PostgreSQL server for this module (skip if none can be started)."""
    with ExitStack() as stack:
        try:
            settings = stack.enter_context(private_postgres())
        except PostgresUnavailable as exc:
            pytest.skip(f"No PostgreSQL server for the runner fidelity suite: {exc}")
        yield settings


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> InstalledTestkit:
    """The testkit task package in a fresh venv (shared by both sides)."""
    return install_testkit(tmp_path_factory.mktemp("testkit"))


@pytest.fixture(scope="module")
def results(
    postgres: PostgresSettings,
    kit: InstalledTestkit,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (reference result, our result), every scenario run once per side."""
    python = cached_venv("fractal-server", FRACTAL_SERVER_VERSION) / "bin" / "python"
    ref_dir = tmp_path_factory.mktemp("reference-runner")
    create_schema(python, postgres, ref_dir)
    ref = run_reference(python, postgres, kit, SCENARIOS, ref_dir)
    ours_dir = tmp_path_factory.mktemp("our-runner")
    return {
        s.name: (r, run_ours(kit, s, ours_dir / s.name))
        for s, r in zip(SCENARIOS, ref, strict=True)
    }


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_workflow_side_by_side(
    name: str, results: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    """Images (in order), job status, runs, units and image statuses are equal."""
    ref, ours = results[name]
    assert "driver_error" not in ref, ref.get("driver_error")
    expected = expected_from_reference(BY_NAME[name], ref)
    statuses = [job["status"] for job in ours["jobs"]]
    assert statuses == [job["status"] for job in expected["jobs"]]
    assert ours["images"] == expected["images"]
    # Type-strict too (1, 1.0 and true differ); key order is not compared because
    # PostgreSQL's JSONB does not keep it.
    assert canonical(ours["images"]) == canonical(expected["images"])
    assert ours["runs"] == expected["runs"]
    assert ours["image_status"] == expected["image_status"]
    for ind, (our_job, ref_job) in enumerate(
        zip(ours["jobs"], ref["jobs"], strict=True)
    ):
        if name == EMPTY_SELECTION:
            assert "Cannot run task 'mark_image' for an empty image list" in str(
                our_job["log"]
            )
        elif name == UPDATE_AND_REMOVE:
            # docs/engine.md "Where we fix the reference": output-application
            # errors are JobExecutionError subclasses (DuplicateZarrUrlError is
            # also a ValueError), so the job log is "JOB ERROR" with the same
            # message where 2.17.0 writes "UNKNOWN ERROR" and a traceback.
            ref_log = log_essentials(ref_job["log"])
            assert ref_log.startswith("UNKNOWN ERROR in Fractal job <ID>")
            message = ref_log.split("\nValueError: ", 1)[1]
            header = "JOB ERROR in Fractal job <ID>:\nTRACEBACK:\nJobExecutionError"
            assert log_essentials(our_job["log"]) == f"{header}\n{message}"
        elif expected["jobs"][ind]["status"] == "failed":
            assert log_essentials(our_job["log"]) == log_essentials(ref_job["log"])
        else:
            assert log_skeleton(our_job["log"]) == log_skeleton(ref_job["log"])


def test_every_task_type_is_covered() -> None:
    """The scenario list exercises the five task types of the testkit."""
    kinds = {
        "create_images": "converter_non_parallel",
        "create_images_compound": "converter_compound",
        "unset_attribute": "non_parallel",
        "mark_image": "parallel",
        "project_compound": "compound",
    }
    used = {name for s in SCENARIOS for name, _ in s.steps}
    assert set(kinds) <= used
