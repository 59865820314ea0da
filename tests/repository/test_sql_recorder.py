"""The SQL recorder passes the engine's recorder contract on SQLite and
PostgreSQL, and keeps what the contract cannot see: key types, stored jobs
and datasets kept in step, one transaction per applied task."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import Job
from fractal_core.domain.job import JobStatus
from fractal_core.domain.project import Project
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.engine.recorder import ImageChanges
from fractal_core.engine.recorder import NewUnit
from fractal_core.engine.recorder import TaskApplied
from fractal_core.images.image_list import ImageList
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.sql import SQLRecorder
from fractal_core.repository.sql import SQLStore
from tests.engine.recorder_contract import RecorderContract


class TestSQLiteRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self, sqlite_store: SQLStore) -> SQLRecorder:
        return sqlite_store.recorder()


class TestPostgresRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self, postgres_store: SQLStore) -> SQLRecorder:
        return postgres_store.recorder()


# --- beyond the contract -----------------------------------------------------------

ZARR = "/data/zarr"


def _image(name: str, **attributes: object) -> dict[str, object]:
    return {
        "zarr_url": f"{ZARR}/{name}",
        "origin": None,
        "attributes": attributes,
        "types": {},
    }


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest) -> SQLStore:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


def test_keys_of_every_kind_stay_apart(any_store: SQLStore) -> None:
    recorder = any_store.recorder()
    recorder.job_started(job_id=5, working_dir="/j/int", dataset_id=1)
    recorder.job_started(job_id="5", working_dir="/j/str", dataset_id="1")
    recorder.job_started(job_id="local-0123456789ab", working_dir="/j/local")
    assert recorder.job(5).working_dir == "/j/int"
    assert recorder.job("5").working_dir == "/j/str"
    assert recorder.job("5").dataset_id == "1" and recorder.job(5).dataset_id == 1
    assert recorder.job("local-0123456789ab").dataset_id is None
    run_int = recorder.run_started(
        dataset_id=1,
        workflowtask_id="position-3",
        job_id=5,
        task_id=None,
        workflowtask_dump={"a": [1, {"b": None}]},
        task_group_dump={},
        num_available_images=0,
    )
    (run,) = recorder.runs_of(1, "position-3")
    assert run.id == run_int and run.task_id is None and run.job_id == 5
    assert run.workflowtask_dump == {"a": [1, {"b": None}]}
    assert recorder.runs_of("1", "position-3") == []


def test_many_units_get_ids_in_the_order_given(any_store: SQLStore) -> None:
    recorder = any_store.recorder()
    run_id = recorder.run_started(
        dataset_id=1,
        workflowtask_id=1,
        job_id=1,
        task_id=1,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=0,
    )
    units = [NewUnit(f"/log/{n}", [f"/z/{n}"]) for n in range(2500)]
    ids = recorder.units_created(run_id, units)
    assert ids == sorted(ids) and len(set(ids)) == 2500
    stored = {u.id: u for u in recorder.units_of(run_id)}
    assert [stored[i].logfile for i in ids] == [u.logfile for u in units]


def test_task_applied_is_one_transaction(any_store: SQLStore) -> None:
    with any_store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="p"))
        ds = uow.datasets.add(
            Dataset(
                name="ds",
                project_id=project.id,
                zarr_dir=ZARR,
                images=ImageList([_image("a"), _image("b")]),
            )
        )
        uow.commit()
    recorder = any_store.recorder()
    run_id = recorder.run_started(
        dataset_id=ds.id,
        workflowtask_id=7,
        job_id=3,
        task_id=1,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=2,
    )
    recorder.job_started(job_id=3, working_dir="/j")
    (unit,) = recorder.units_created(run_id, [NewUnit("/l", [f"{ZARR}/a"])])
    recorder.image_cache_set(
        dataset_id=ds.id, workflowtask_id=7, latest_unit={f"{ZARR}/b": unit}
    )
    # The update of an image the dataset does not hold fails *after* the
    # removal of b was written: nothing of the event may remain.
    bad = TaskApplied(
        job_id=3,
        dataset_id=ds.id,
        workflowtask_id=7,
        run_id=run_id,
        changes=ImageChanges(updated=[_image("ghost", x=1)], removed=[f"{ZARR}/b"]),
        images=ImageList([_image("a")]),
        num_tasks=1,
        num_new_images=0,
        executor_error_log="boom",
    )
    with pytest.raises(NotFoundError, match="ghost"):
        recorder.task_applied(bad)
    assert recorder.images_of(ds.id) == [_image("a"), _image("b")]
    assert recorder.image_status(ds.id, 7) == {f"{ZARR}/b": "submitted"}
    (run,) = recorder.runs_of(ds.id, 7)
    assert run.num_tasks is None
    assert recorder.job(3).executor_error_log is None


def test_history_is_read_back_by_another_store_on_the_same_file(
    sqlite_url: str,
) -> None:
    writer = SQLStore(sqlite_url)
    recorder = writer.recorder()
    recorder.job_started(job_id="local-1", working_dir="/j")
    end = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    recorder.job_ended(
        job_id="local-1", status=JobStatus.DONE, log="all good", end_timestamp=end
    )
    run_id = recorder.run_started(
        dataset_id="ds",
        workflowtask_id="position-0",
        job_id="local-1",
        task_id=2,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=1,
    )
    (unit,) = recorder.units_created(run_id, [NewUnit("/l", ["/z/a"])])
    recorder.units_finished([unit], HistoryStatus.DONE, {unit: True})
    recorder.image_cache_set(
        dataset_id="ds", workflowtask_id="position-0", latest_unit={"/z/a": unit}
    )
    writer.close()
    reader = SQLStore(sqlite_url).recorder()
    job = reader.job("local-1")
    assert (job.status, job.log, job.end_timestamp) == (JobStatus.DONE, "all good", end)
    assert reader.image_status("ds", "position-0") == {"/z/a": "done"}
    assert reader.num_units_with_warnings(run_id) == 1


def test_job_events_keep_a_stored_job_in_step(any_store: SQLStore) -> None:
    with any_store.unit_of_work() as uow:
        job = uow.jobs.add(Job(first_task_index=0, last_task_index=0))
        uow.commit()
    recorder = any_store.recorder()
    recorder.job_started(job_id=job.id, working_dir="/j")
    recorder.executor_error_log(job_id=job.id, text="x\x00y")
    end = datetime.now(UTC)
    recorder.job_ended(
        job_id=job.id, status=JobStatus.FAILED, log="JOB ERROR", end_timestamp=end
    )
    with any_store.unit_of_work() as uow:
        stored = uow.jobs.get(job.id)  # type: ignore[arg-type]
    assert stored.status == JobStatus.FAILED and stored.log == "JOB ERROR"
    assert stored.end_timestamp == end and stored.executor_error_log == "xy"
