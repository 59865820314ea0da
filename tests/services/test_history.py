"""History services (services.md §12, execution.md §5.4-5.5) on real jobs,
after the reference's `test_09_history/test_history_api.py` (`test_status_api`,
`test_get_history_run_list`, `test_get_history_run_units`,
`test_get_history_images`, `test_get_logs`, `test_get_history_run_dataset`),
`test_unit_api_aux_functions.py` and `test_03_api/test_api_history.py`.

One scenario per backend (memory, SQLite, PostgreSQL), run once per module:
the testkit's `create_images` (3 images) then `mark_image`, which fails on
the third image; a rerun of the failed image only (status filter); a rerun
of the task on the images still unmarked. Snapshots are taken between jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fractal_core import services as sv
from fractal_core.domain.job import Job
from fractal_core.domain.job import JobStatus
from fractal_core.domain.task_group import TaskGroup
from fractal_core.executors.local import LocalExecutor
from fractal_core.images import IMAGE_STATUS_KEY
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import PaginationError
from fractal_core.repository.base import Store
from tests.engine.testkit import InstalledTestkit

from .history_support import BACKENDS
from .history_support import open_store

WAIT_S = 120.0
STATUSES = ["done", "submitted", "failed", "unset"]


@dataclass
class Scenario:
    store: Store
    project_id: int
    dataset_id: int
    workflow_id: int
    wft: list[int]
    urls: list[str]
    zarr_dir: str
    testkit_version: str
    snapshots: dict[str, Any] = field(default_factory=dict)


def _run(store: Store, s: Scenario, jobs_dir: Path, **request: Any) -> Job:
    with LocalExecutor() as executor:
        handle = sv.submit_job(
            store,
            s.project_id,
            s.workflow_id,
            s.dataset_id,
            request,
            executor=executor,
            jobs_dir=jobs_dir,
        )
        assert handle.wait(WAIT_S)
    assert isinstance(handle.id, int)
    return _finished(store, s.project_id, handle.id)


def _finished(store: Store, project_id: int, job_id: int) -> Job:
    """The stored job once its end was written back."""
    import time

    deadline = time.monotonic() + WAIT_S
    while True:
        job = sv.get_job(store, project_id, job_id)
        if job.status != JobStatus.SUBMITTED or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


MARK_SCHEMA = {
    "type": "object",
    "properties": {"fail_on": {"type": "array", "items": {"type": "string"}}},
}


def _build(store: Store, testkit: InstalledTestkit, folder: Path) -> Scenario:
    mark = testkit.task("mark_image").model_copy(
        update={"args_schema_parallel": MARK_SCHEMA}
    )
    with store.unit_of_work() as uow:
        group = uow.task_groups.add(
            TaskGroup(
                origin="other",
                pkg_name="fractal-tasks-testkit",
                version=testkit.version,
                task_list=[testkit.task("create_images"), mark],
            )
        )
        uow.commit()
    ids = {t.name: t.id or 0 for t in group.task_list}
    project = sv.create_project(store, "proj")
    assert project.id is not None
    zarr_dir = str(folder / "zarr")
    ds = sv.create_dataset(store, project.id, "ds", zarr_dir=zarr_dir)
    wf = sv.create_workflow(store, project.id, "wf")
    assert ds.id is not None and wf.id is not None
    t0 = sv.create_workflow_task(
        store,
        project.id,
        wf.id,
        ids["create_images"],
        args_non_parallel={"num_images": 3},
    )
    t1 = sv.create_workflow_task(
        store, project.id, wf.id, ids["mark_image"], args_parallel={"fail_on": ["03/0"]}
    )
    assert t0.id is not None and t1.id is not None
    urls = [f"{zarr_dir}/plate.zarr/A/{n:02d}/0" for n in (1, 2, 3)]
    return Scenario(
        store, project.id, ds.id, wf.id, [t0.id, t1.id], urls, zarr_dir, testkit.version
    )


def _play(s: Scenario, jobs_dir: Path) -> None:
    """Three jobs, with snapshots of the services' answers in between."""
    store, p, d, (t0, t1) = s.store, s.project_id, s.dataset_id, s.wft
    first = _run(store, s, jobs_dir)
    assert first.status == JobStatus.FAILED, first.log
    s.snapshots["status_1"] = sv.workflow_tasks_status(store, p, d, s.workflow_id)
    s.snapshots["failed_1"] = sv.history_images(
        store, p, d, t1, attribute_filters={IMAGE_STATUS_KEY: ["failed"]}
    )
    # the engine typed every input image "marked": unmark the failed one and
    # rerun the task on the failed image only
    sv.patch_image(store, p, d, s.urls[2], types={"3D": True, "marked": False})
    sv.update_workflow_task(store, p, s.workflow_id, t1, {"args_parallel": {}})
    second = _run(
        store,
        s,
        jobs_dir,
        first_task_index=1,
        attribute_filters={IMAGE_STATUS_KEY: ["failed"]},
    )
    assert second.status == JobStatus.DONE, second.log
    s.snapshots["status_2"] = sv.workflow_tasks_status(store, p, d, s.workflow_id)
    # the whole workflow again, on two images made unmarked by the converter
    sv.update_workflow_task(
        store,
        p,
        s.workflow_id,
        t0,
        {"args_non_parallel": {"num_images": 2, "types": {"marked": False}}},
    )
    third = _run(store, s, jobs_dir)
    assert third.status == JobStatus.DONE, third.log
    s.snapshots["jobs"] = [first.id, second.id, third.id]


@pytest.fixture(scope="module", params=BACKENDS)
def scenario(
    request: pytest.FixtureRequest,
    testkit: InstalledTestkit,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp(f"history-{request.param}")
    with open_store(request.param, folder, request) as store:
        s = _build(store, testkit, folder)
        _play(s, folder / "jobs")
        yield s


def _counts(
    status: str, available: int | None, done: int, failed: int
) -> dict[str, Any]:
    return {
        "status": status,
        "num_available_images": available,
        "num_submitted_images": 0,
        "num_done_images": done,
        "num_failed_images": failed,
    }


def test_status_per_workflow_task(scenario: Scenario) -> None:
    """`test_status_api`: counters per status and the None rule for
    `num_available_images` (more images with a status than available)."""
    s = scenario
    t0, t1 = s.wft
    assert s.snapshots["status_1"] == {
        t0: _counts("done", 0, 0, 0),
        t1: _counts("failed", 3, 2, 1),
    }
    # the rerun saw 1 image (type filter), the cache holds 3 images
    assert s.snapshots["status_2"] == {
        t0: _counts("done", 0, 0, 0),
        t1: _counts("done", None, 3, 0),
    }
    now = sv.workflow_tasks_status(s.store, s.project_id, s.dataset_id, s.workflow_id)
    assert list(now) == [t0, t1]
    assert now == {t0: _counts("done", 0, 0, 0), t1: _counts("done", None, 3, 0)}


@contextmanager
def _running_job(s: Scenario, first: int, last: int) -> Iterator[Job]:
    """A `submitted` job record over tasks first..last (no process runs it);
    marked failed on exit so that the dataset is free again."""
    with s.store.unit_of_work() as uow:
        job = uow.jobs.add(
            Job(
                project_id=s.project_id,
                dataset_id=s.dataset_id,
                workflow_id=s.workflow_id,
                first_task_index=first,
                last_task_index=last,
            )
        )
        uow.commit()
    try:
        yield job
    finally:
        with s.store.unit_of_work() as uow:
            uow.jobs.update(job.model_copy(update={"status": JobStatus.FAILED}))
            uow.commit()


def test_status_with_a_running_job(
    scenario: Scenario, testkit: InstalledTestkit
) -> None:
    """`test_get_workflow_tasks_statuses`: a submitted job over tasks 1-2 —
    task 0 outside keeps its run's status, task 1 (an older job's run) is
    submitted with counters, task 2 (no run) is submitted without counters;
    with no running job task 2 is None."""
    s = scenario
    with s.store.unit_of_work() as uow:
        wf = uow.workflows.get(s.workflow_id)
    mark = wf.task_list[1].task_id
    assert mark is not None
    t2 = sv.create_workflow_task(s.store, s.project_id, s.workflow_id, mark)
    assert t2.id is not None
    try:
        idle = sv.workflow_tasks_status(
            s.store, s.project_id, s.dataset_id, s.workflow_id
        )
        assert idle[t2.id] is None
        with _running_job(s, 1, 2):
            busy = sv.workflow_tasks_status(
                s.store, s.project_id, s.dataset_id, s.workflow_id
            )
    finally:
        sv.delete_workflow_task(s.store, s.project_id, s.workflow_id, t2.id)
    t0, t1 = s.wft
    assert busy == {
        t0: _counts("done", 0, 0, 0),
        t1: _counts("submitted", None, 3, 0),
        t2.id: {"status": "submitted"},
    }


def test_history_runs(scenario: Scenario) -> None:
    """`test_get_history_run_list`: oldest first, units per status (zeros
    included), the current task's version and schemas."""
    s = scenario
    t0, t1 = s.wft
    runs = sv.history_runs(s.store, s.project_id, s.dataset_id, t1)
    assert [r.run.status.value for r in runs] == ["failed", "done", "done"]
    assert [r.run.job_id for r in runs] == s.snapshots["jobs"]
    assert [
        (r.num_submitted_units, r.num_done_units, r.num_failed_units) for r in runs
    ] == [(0, 2, 1), (0, 1, 0), (0, 2, 0)]
    assert [r.run.num_available_images for r in runs] == [3, 1, 2]
    assert all(r.task_found and r.version == s.testkit_version for r in runs)
    assert runs[0].args_schema_parallel == MARK_SCHEMA
    assert runs[0].args_schema_non_parallel is None
    shape = runs[0].to_dict()
    assert shape["num_failed_units"] == 1 and shape["status"] == "failed"
    assert shape["version"] == s.testkit_version
    converter = sv.history_runs(s.store, s.project_id, s.dataset_id, t0)
    assert [(c.num_done_units, c.run.num_available_images) for c in converter] == [
        (1, 0),
        (1, 0),
    ]


def test_dataset_history(scenario: Scenario) -> None:
    """`test_get_history_run_dataset`: every run of the dataset, oldest first."""
    s = scenario
    runs = sv.dataset_history(s.store, s.project_id, s.dataset_id)
    t0, t1 = s.wft
    assert [r.workflowtask_id for r in runs] == [t0, t1, t1, t0, t1]
    stamps = [(r.timestamp_started, r.id) for r in runs]
    assert stamps == sorted(stamps)


def _first_run(s: Scenario) -> int:
    return sv.history_runs(s.store, s.project_id, s.dataset_id, s.wft[1])[0].run.id


def test_run_units_pages_and_filter(scenario: Scenario) -> None:
    """`test_get_history_run_units`: by id, status filter, unclamped pages."""
    s = scenario
    run_id = _first_run(s)
    args = (s.store, s.project_id, s.dataset_id, s.wft[1], run_id)
    every = sv.history_run_units(*args)
    assert (every.total_count, every.page, every.page_size) == (3, 1, 3)
    ids = [u.id for u in every.items]
    assert ids == sorted(ids)
    assert sorted(url for u in every.items for url in u.zarr_urls) == s.urls
    failed = sv.history_run_units(*args, unit_status="failed")
    assert failed.total_count == 1
    assert failed.items[0].zarr_urls == [s.urls[2]]
    second = sv.history_run_units(*args, page=2, page_size=2)
    assert (second.total_count, second.page, second.page_size) == (3, 2, 2)
    assert [u.id for u in second.items] == ids[2:]
    past = sv.history_run_units(*args, page=5, page_size=2)
    assert (past.items, past.page, past.total_count) == ([], 5, 3)
    none = sv.history_run_units(*args, unit_status="submitted")
    assert (none.items, none.total_count, none.page_size) == ([], 0, 0)


def test_run_units_refusals(scenario: Scenario) -> None:
    """Bad pagination and status, a missing run, a run of another task."""
    s = scenario
    t0, t1 = s.wft
    run_id = _first_run(s)
    args = (s.store, s.project_id, s.dataset_id, t1, run_id)
    with pytest.raises(PaginationError, match="page_size is None but page=2"):
        sv.history_run_units(*args, page=2)
    with pytest.raises(PaginationError, match="page=0"):
        sv.history_run_units(*args, page=0)
    with pytest.raises(PaginationError, match="page_size=0"):
        sv.history_run_units(*args, page_size=0)
    with pytest.raises(ValidationError, match="unit_status"):
        sv.history_run_units(*args, unit_status="bogus")
    with pytest.raises(NotFoundError, match="HistoryRun 9999 not found"):
        sv.history_run_units(s.store, s.project_id, s.dataset_id, t1, 9999)
    with pytest.raises(sv.HistoryRelationError, match="is not related") as exc:
        sv.history_run_units(s.store, s.project_id, s.dataset_id, t0, run_id)
    assert (exc.value.run_id, exc.value.workflowtask_id) == (run_id, t0)
    assert exc.value.dataset_id == s.dataset_id and exc.value.unit_id is None
    assert isinstance(exc.value, sv.WrongParentError)


def test_history_images_after_failure(scenario: Scenario) -> None:
    """The status filter right after the failing job: the failed image only."""
    page = scenario.snapshots["failed_1"]
    assert [i["zarr_url"] for i in page.items] == [scenario.urls[2]]
    assert page.items[0]["attributes"][IMAGE_STATUS_KEY] == "failed"
    assert page.attributes[IMAGE_STATUS_KEY] == STATUSES


def test_history_images(scenario: Scenario) -> None:
    """`test_get_history_images`: statuses (incl. unset for an image added by
    hand), type and attribute filters, order by zarr_url, unclamped pages,
    summaries over the whole dataset."""
    s = scenario
    extra = f"{s.zarr_dir}/extra.zarr/B/01/0"
    sv.add_image(s.store, s.project_id, s.dataset_id, {"zarr_url": extra})
    try:
        args = (s.store, s.project_id, s.dataset_id, s.wft[1])
        every = sv.history_images(*args)
        assert [i["zarr_url"] for i in every.items] == sorted([*s.urls, extra])
        expected = {**dict.fromkeys(s.urls, "done"), extra: "unset"}
        assert [
            (i["zarr_url"], i["attributes"][IMAGE_STATUS_KEY]) for i in every.items
        ] == sorted(expected.items())
        assert (every.total_count, every.page, every.page_size) == (4, 1, 4)
        assert every.types == ["3D", "marked"]
        assert every.attributes["well"] == ["A01", "A02", "A03"]
        assert every.attributes[IMAGE_STATUS_KEY] == STATUSES
        unset = sv.history_images(
            *args, attribute_filters={IMAGE_STATUS_KEY: ["unset"]}
        )
        assert [i["zarr_url"] for i in unset.items] == [extra]
        assert unset.types == ["3D", "marked"]  # still the whole dataset
        marked = sv.history_images(
            *args,
            type_filters={"marked": True},
            attribute_filters={"well": ["A01", "A03"], IMAGE_STATUS_KEY: ["done"]},
        )
        assert [i["zarr_url"] for i in marked.items] == [s.urls[0], s.urls[2]]
        second = sv.history_images(*args, page=2, page_size=3)
        assert [i["zarr_url"] for i in second.items] == [sorted(expected)[3]]
        assert (second.page, second.page_size, second.total_count) == (2, 3, 4)
        past = sv.history_images(*args, page=3, page_size=3)
        assert (past.items, past.page) == ([], 3)
        converter = sv.history_images(
            s.store,
            s.project_id,
            s.dataset_id,
            s.wft[0],
            attribute_filters={IMAGE_STATUS_KEY: ["unset"]},
        )
        assert converter.total_count == 4  # the converter's unit had no input
        with pytest.raises(PaginationError):
            sv.history_images(*args, page=2)
    finally:
        sv.delete_image(s.store, s.project_id, s.dataset_id, extra)


def test_logs(scenario: Scenario, tmp_path: Path) -> None:
    """`test_get_logs`: unit log and image log, their relation checks, and the
    placeholder (or error) once the log file is gone."""
    s = scenario
    t0, t1 = s.wft
    runs = sv.history_runs(s.store, s.project_id, s.dataset_id, t1)
    first, second = runs[0].run.id, runs[1].run.id
    failed = sv.history_run_units(
        s.store, s.project_id, s.dataset_id, t1, first, unit_status="failed"
    ).items[0]
    text = sv.unit_log(s.store, s.project_id, s.dataset_id, t1, first, failed.id)
    assert "mark_image failed on purpose" in text
    with pytest.raises(
        sv.HistoryRelationError, match="is not related to HistoryRun"
    ) as exc:
        sv.unit_log(s.store, s.project_id, s.dataset_id, t1, second, failed.id)
    assert (exc.value.unit_id, exc.value.run_id) == (failed.id, second)
    with pytest.raises(NotFoundError, match="HistoryUnit 9999 not found"):
        sv.unit_log(s.store, s.project_id, s.dataset_id, t1, first, 9999)
    # the image's latest unit for the task is the rerun's (done)
    image_text = sv.image_log(s.store, s.project_id, s.dataset_id, t1, s.urls[2] + "/")
    assert "[mark_image] START" in image_text and "failed on purpose" not in image_text
    with pytest.raises(NotFoundError, match="HistoryImageCache not found"):
        sv.image_log(s.store, s.project_id, s.dataset_id, t0, s.urls[0])
    moved = tmp_path / "moved.log"
    Path(failed.logfile).rename(moved)
    try:
        placeholder = sv.unit_log(
            s.store, s.project_id, s.dataset_id, t1, first, failed.id
        )
        assert placeholder == (
            f"Logs for task 'mark_image' in dataset {s.dataset_id} are not available."
        )
        with pytest.raises(sv.LogNotAvailableError) as missing:
            sv.unit_log(
                s.store,
                s.project_id,
                s.dataset_id,
                t1,
                first,
                failed.id,
                missing_ok=False,
            )
        assert missing.value.logfile == failed.logfile
    finally:
        moved.rename(failed.logfile)


def test_relation_checks(scenario: Scenario) -> None:
    """`test_verify_workflow_and_dataset_access` and the look-up order:
    project, workflow task, its workflow under the project, the dataset."""
    s = scenario
    t1 = s.wft[1]
    other = sv.create_project(s.store, "other")
    assert other.id is not None
    other_ds = sv.create_dataset(s.store, other.id, "ods", zarr_dir=s.zarr_dir + "2")
    assert other_ds.id is not None
    try:
        with pytest.raises(NotFoundError):
            sv.history_runs(s.store, 9999, s.dataset_id, t1)
        with pytest.raises(NotFoundError, match="WorkflowTask 9999 not found"):
            sv.history_runs(s.store, s.project_id, s.dataset_id, 9999)
        with pytest.raises(sv.WrongParentError) as wrong_wf:
            sv.history_runs(s.store, other.id, other_ds.id, t1)
        assert (wrong_wf.value.kind, wrong_wf.value.parent_id) == ("workflow", other.id)
        with pytest.raises(sv.WrongParentError) as wrong_ds:
            sv.history_images(s.store, s.project_id, other_ds.id, t1)
        assert (wrong_ds.value.kind, wrong_ds.value.object_id) == (
            "dataset",
            other_ds.id,
        )
        with pytest.raises(NotFoundError):
            sv.dataset_history(s.store, s.project_id, 9999)
        with pytest.raises(sv.WrongParentError):
            sv.dataset_history(s.store, other.id, s.dataset_id)
        with pytest.raises(sv.WrongParentError):
            sv.workflow_tasks_status(s.store, other.id, other_ds.id, s.workflow_id)
        with pytest.raises(sv.WrongParentError):
            sv.workflow_tasks_status(s.store, s.project_id, other_ds.id, s.workflow_id)
    finally:
        sv.delete_project(s.store, other.id)


def test_legacy_status(scenario: Scenario) -> None:
    """`test_status_legacy.py`: the walk stops at the first failed task or the
    last history item; a running job marks its slice from the first
    submitted task (or its start)."""
    s = scenario
    t0, t1 = s.wft

    def item(wft: int, status: str) -> dict[str, Any]:
        return {"workflowtask": {"id": wft}, "status": status}

    legacy = [item(t0, "done"), item(t1, "failed")]
    assert sv.legacy_status(
        s.store, s.project_id, s.dataset_id, s.workflow_id, legacy
    ) == {str(t0): "done", str(t1): "failed"}
    assert sv.legacy_status(
        s.store, s.project_id, s.dataset_id, s.workflow_id, [item(t0, "done")]
    ) == {str(t0): "done"}
    assert (
        sv.legacy_status(s.store, s.project_id, s.dataset_id, s.workflow_id, []) == {}
    )
    with _running_job(s, 0, 1):
        running = sv.legacy_status(
            s.store, s.project_id, s.dataset_id, s.workflow_id, [item(t0, "done")]
        )
    assert running == {str(t0): "submitted", str(t1): "submitted"}
