"""Divergences the side-by-side suite found, pinned without the reference venv.

Each expected value is what fractal-server 2.17.0 answers for the same input
(checked by the slow tests of this folder); these run in the fast suite.
"""

from __future__ import annotations

import pytest

from fractal_core.domain.job import JobCreate
from fractal_core.engine.outputs import TaskOutput
from fractal_core.engine.outputs import merge_outputs
from fractal_core.engine.runner import set_start_and_last_task_index
from fractal_core.images import IncompatibleTypeFiltersError
from fractal_core.images import merge_type_filters
from fractal_core.manifest.models import ManifestV2
from fractal_core.types import validate_wft_args


def test_last_task_index_message() -> None:
    with pytest.raises(ValueError) as info:
        set_start_and_last_task_index(1, first_task_index=2, last_task_index=3)
    assert str(info.value) == "last_task_index=3 cannot be larger than (num_tasks-1)=0"


def test_merge_type_filters_message() -> None:
    with pytest.raises(IncompatibleTypeFiltersError) as info:
        merge_type_filters(
            task_input_types={"a": True, "b": False},
            wftask_type_filters={"a": False},
        )
    assert str(info.value) == (
        "Cannot merge type filters `{'a': True, 'b': False}` (from task) "
        "and `{'a': False}` (from workflowtask)."
    )
    assert info.value.conflicts == ["a"]


def test_forbidden_argument_keys_message() -> None:
    with pytest.raises(ValueError) as info:
        validate_wft_args({"zarr_url": 1, "a": 2})
    assert str(info.value) == (
        "`args` contains the following forbidden keys: {'zarr_url'}"
    )


def test_missing_args_schema_message() -> None:
    with pytest.raises(ValueError) as info:
        ManifestV2.model_validate(
            {
                "manifest_version": "2",
                "has_args_schemas": True,
                "task_list": [{"name": "t", "executable_parallel": "p.py"}],
            }
        )
    assert (
        "Manifest has has_args_schemas=True, but task 't' has "
        "task.args_schema_parallel=None." in str(info.value)
    )


def test_merged_output_dumps_like_task_output() -> None:
    """`merge_outputs(...).model_dump()` is what 2.17.0's TaskOutput dumps."""
    outputs = [
        TaskOutput.model_validate(
            {
                "image_list_updates": [{"zarr_url": "/z/a/", "attributes": {"w": 1}}],
                "image_list_removals": ["/z/c", "/z/b"],
            }
        ),
        TaskOutput.model_validate(
            {
                "image_list_updates": [{"zarr_url": "/z/a", "attributes": {"w": True}}],
                "image_list_removals": ["/z/c"],
            }
        ),
    ]
    dumped = merge_outputs(outputs).model_dump()
    assert dumped == {
        "image_list_updates": [
            {"zarr_url": "/z/a", "origin": None, "attributes": {"w": 1}, "types": {}}
        ],
        "image_list_removals": ["/z/c", "/z/b"],
    }
    assert dumped["image_list_updates"][0]["attributes"]["w"] is not True


def test_job_create_refuses_null_worker_init() -> None:
    """2.17.0's `worker_init: NonEmptyStr = None`: omit it, or give text."""
    assert JobCreate().worker_init is None
    assert JobCreate(worker_init="module load x").worker_init == "module load x"
    with pytest.raises(ValueError, match="worker_init"):
        JobCreate(worker_init=None)
