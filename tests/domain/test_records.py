"""Project, Dataset, Job, dumps and History records."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fractal_core.domain import Dataset
from fractal_core.domain import HistoryUnit
from fractal_core.domain import HistoryUnitStatusWithUnset
from fractal_core.domain import Job
from fractal_core.domain import JobCreate
from fractal_core.domain import JobStatus
from fractal_core.domain import Project
from fractal_core.domain import Task
from fractal_core.domain import TaskGroup
from fractal_core.domain import Workflow
from fractal_core.domain import dump_task_group
from fractal_core.domain import dump_workflow_task
from fractal_core.domain import log_has_warnings
from fractal_core.domain import unit_counts
from fractal_core.images import DuplicateImageError
from fractal_core.images import ImageOutsideZarrDirError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_project_names() -> None:
    assert Project(name=" my proj-1.2 ").name == "my proj-1.2"
    for bad in ("", "   ", "a/b", "a;b", None):
        with pytest.raises(ValidationError):
            Project(name=bad)


def test_dataset_zarr_dir_normalised_and_images() -> None:
    ds = Dataset(
        name="ds",
        zarr_dir="/data/plate.zarr/",
        images=[{"zarr_url": "/data/plate.zarr/A/01/0"}],
    )
    assert ds.zarr_dir == "/data/plate.zarr"
    ds.add_image({"zarr_url": "/data/plate.zarr/A/02/0", "types": {"3D": True}})
    assert ds.images.zarr_urls() == [
        "/data/plate.zarr/A/01/0",
        "/data/plate.zarr/A/02/0",
    ]
    with pytest.raises(ImageOutsideZarrDirError):
        ds.add_image({"zarr_url": "/data/plate.zarr2/A/0"})
    with pytest.raises(ImageOutsideZarrDirError):
        ds.add_image({"zarr_url": "/data/plate.zarr"})
    with pytest.raises(DuplicateImageError):
        ds.add_image({"zarr_url": "/data/plate.zarr/A/01/0"})
    with pytest.raises(ValidationError):
        Dataset(name="ds", zarr_dir="relative/dir")
    with pytest.raises(ValidationError):
        Dataset(name="ds", zarr_dir="/data/../etc")


def test_dataset_json_roundtrip_and_export() -> None:
    ds = Dataset(
        id=3,
        name="ds",
        zarr_dir="s3://bucket/x",
        images=[{"zarr_url": "s3://bucket/x/a", "attributes": {"well": "A01"}}],
    )
    again = Dataset.model_validate_json(ds.model_dump_json())
    assert again.images.to_list() == ds.images.to_list()
    assert again.zarr_dir == "s3://bucket/x"
    exported = ds.to_export()
    assert exported["images"][0]["attributes"] == {"well": "A01"}
    imported = Dataset.from_import(
        exported | {"type_filters": {"legacy": True}}, project_id=2
    )
    assert imported.project_id == 2 and imported.images == ds.images


def test_dataset_import_checks() -> None:
    base = {"name": "ds", "zarr_dir": "/z"}
    with pytest.raises(ValidationError, match="not inside"):
        Dataset.from_import(base | {"images": [{"zarr_url": "/other/a"}]})
    with pytest.raises(ValidationError, match="Duplicated"):
        Dataset.from_import(
            base | {"images": [{"zarr_url": "/z/a"}, {"zarr_url": "/z/a/"}]}
        )


def make_objects() -> tuple[Project, Workflow, Dataset]:
    project = Project(id=1, name="p", timestamp_created=T0)
    workflow = Workflow(
        id=2, name="w", project_id=1, timestamp_created=T0, description="d"
    )
    workflow.append_task(
        Task(id=5, name="t", command_parallel="p", version="1"), alias="A"
    )
    dataset = Dataset(
        id=3,
        name="d",
        project_id=1,
        zarr_dir="/z",
        timestamp_created=T0,
        images=[{"zarr_url": "/z/a"}],
    )
    return project, workflow, dataset


def test_job_for_submission_dumps() -> None:
    project, workflow, dataset = make_objects()
    job = Job.for_submission(
        project=project,
        workflow=workflow,
        dataset=dataset,
        first_task_index=0,
        last_task_index=0,
        user_email="me@x",
        attribute_filters={"well": ["A01"]},
    )
    assert job.project_dump == {
        "id": 1,
        "name": "p",
        "timestamp_created": T0.isoformat(),
    }
    assert job.workflow_dump == {
        "id": 2,
        "name": "w",
        "project_id": 1,
        "timestamp_created": T0.isoformat(),
    }
    assert job.dataset_dump == {
        "id": 3,
        "name": "d",
        "project_id": 1,
        "timestamp_created": T0.isoformat(),
        "zarr_dir": "/z",
    }
    assert (job.project_id, job.workflow_id, job.dataset_id) == (1, 2, 3)
    assert job.status == JobStatus.SUBMITTED and not job.is_finished
    json.dumps(job.model_dump(mode="json"))  # JSON-able
    job.finish("failed", log="boom")
    assert (
        job.status == "failed" and job.end_timestamp is not None and job.log == "boom"
    )
    with pytest.raises(ValueError):
        job.finish(JobStatus.SUBMITTED)


def test_job_indices_and_create() -> None:
    with pytest.raises(ValidationError, match="cannot be larger"):
        Job(first_task_index=2, last_task_index=1)
    with pytest.raises(ValidationError, match="cannot be larger"):
        JobCreate(first_task_index=3, last_task_index=1)
    with pytest.raises(ValidationError):
        JobCreate(first_task_index=-1)
    with pytest.raises(ValidationError):
        JobCreate(slurm_account=123)  # strict string
    with pytest.raises(ValidationError):
        JobCreate(attribute_filters={"a": [{"nested": 1}]})
    assert JobCreate(type_filters={" a ": True}).type_filters == {"a": True}


def test_history_dumps() -> None:
    _, workflow, _ = make_objects()
    dump = dump_workflow_task(workflow.task_list[0])
    assert dump["alias"] == "A" and dump["order"] == 0 and dump["task_id"] == 5
    assert dump["task"] == {
        "id": 5,
        "name": "t",
        "type": "parallel",
        "command_non_parallel": None,
        "command_parallel": "p",
        "source": None,
        "version": "1",
        "input_types": {},
        "output_types": {},
    }
    group = TaskGroup(
        id=8,
        origin="pypi",
        pkg_name="Pkg_A",
        version="1",
        pinned_package_versions_pre={"a": "1"},
    )
    assert dump_task_group(group) == {
        "id": 8,
        "origin": "pypi",
        "pkg_name": "pkg-a",
        "version": "1",
        "python_version": None,
        "pip_extras": None,
        "pinned_package_versions_pre": {"a": "1"},
        "pinned_package_versions_post": {},
        "path": None,
        "venv_path": None,
        "archive_path": None,
    }


def test_log_has_warnings(tmp_path: Path) -> None:
    log = tmp_path / "unit.log"
    log.write_text("all fine\n")
    assert not log_has_warnings(log)
    log.write_text(
        "x" * (1 << 20) + "Warn" + "ING: something\n"
    )  # across a chunk border
    assert log_has_warnings(log)
    assert not log_has_warnings(tmp_path / "missing.log")
    assert not log_has_warnings(None)


@given(
    st.lists(
        st.tuples(st.sampled_from(["submitted", "done", "failed"]), st.booleans()),
        max_size=20,
    )
)
def test_unit_counts(units: list[tuple[str, bool]]) -> None:
    records = [HistoryUnit(status=s, has_warnings=w) for s, w in units]
    counts = unit_counts(records)
    assert sum(
        counts[f"num_{s}_units"] for s in ("submitted", "done", "failed")
    ) == len(units)
    assert counts["num_units_with_warnings"] == sum(w for _, w in units)
    assert HistoryUnitStatusWithUnset("unset") == "unset"
