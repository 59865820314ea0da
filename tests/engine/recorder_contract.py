"""The contract every `Recorder` (with `HistoryQueries`) passes, unchanged.

To check a new implementation, subclass `RecorderContract` in a test module
and give it a `recorder` fixture building a fresh, empty instance (a new
database per test for a SQL recorder). Nothing here knows what stores the
data: every assertion goes through the two protocols.
"""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest

from fractal_core.engine.recorder import HistoryQueries
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.engine.recorder import ImageChanges
from fractal_core.engine.recorder import JobStatus
from fractal_core.engine.recorder import NewUnit
from fractal_core.engine.recorder import Recorder
from fractal_core.engine.recorder import TaskApplied
from fractal_core.images.image_list import ImageList


def _image(url: str, **attributes: Any) -> dict[str, Any]:
    return {"zarr_url": url, "origin": None, "attributes": attributes, "types": {}}


def _run(recorder: Any, *, dataset: Any = 1, wft: Any = 10, job: Any = 5) -> int:
    run_id: int = recorder.run_started(
        dataset_id=dataset,
        workflowtask_id=wft,
        job_id=job,
        task_id=3,
        workflowtask_dump={"id": wft},
        task_group_dump={"pkg_name": "pkg"},
        num_available_images=4,
    )
    return run_id


def _applied(
    recorder: Any,
    run_id: int,
    images: list[dict[str, Any]],
    changes: ImageChanges,
    *,
    dataset: Any = 1,
    wft: Any = 10,
) -> None:
    recorder.task_applied(
        TaskApplied(
            job_id=5,
            dataset_id=dataset,
            workflowtask_id=wft,
            run_id=run_id,
            changes=changes,
            images=ImageList(images),
            num_tasks=len(images),
            num_new_images=len(changes.created),
            executor_error_log=None,
        )
    )


class RecorderContract:
    """Subclass with a `recorder` fixture; every test must pass unchanged."""

    @pytest.fixture
    def recorder(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_implements_both_protocols(self, recorder: Any) -> None:
        assert isinstance(recorder, Recorder)
        assert isinstance(recorder, HistoryQueries)

    def test_job_start_and_end(self, recorder: Any) -> None:
        recorder.job_started(job_id=5, working_dir="/jobs/5", dataset_id=1)
        assert recorder.job(5).status == JobStatus.SUBMITTED
        end = datetime.now(UTC)
        recorder.job_ended(
            job_id=5, status=JobStatus.FAILED, log="JOB ERROR", end_timestamp=end
        )
        job = recorder.job(5)
        assert job.status == JobStatus.FAILED and job.log == "JOB ERROR"
        assert job.end_timestamp == end
        with pytest.raises(KeyError):
            recorder.job(6)

    def test_executor_error_log_is_kept_without_nul(self, recorder: Any) -> None:
        recorder.job_started(job_id=5, working_dir="/jobs/5")
        recorder.executor_error_log(job_id=5, text="bad\x00news")
        assert recorder.job(5).executor_error_log == "badnews"
        recorder.executor_error_log(job_id=5, text=None)
        assert recorder.job(5).executor_error_log is None

    def test_runs_and_units(self, recorder: Any) -> None:
        run_a = _run(recorder)
        run_b = _run(recorder)
        assert run_a != run_b
        assert [r.id for r in recorder.runs_of(1, 10)] == [run_a, run_b]
        assert recorder.runs_of(1, 11) == [] and recorder.runs_of(2, 10) == []
        ids = recorder.units_created(
            run_a, [NewUnit("/l/0", ["/z/a"]), NewUnit("/l/1", ["/z/b"])]
        )
        assert len(set(ids)) == 2
        units = recorder.units_of(run_a)
        assert [u.id for u in units] == ids
        assert all(u.status == HistoryStatus.SUBMITTED for u in units)
        assert units[1].zarr_urls == ["/z/b"] and units[0].logfile == "/l/0"
        recorder.units_finished([ids[0]], HistoryStatus.DONE, {ids[0]: True})
        recorder.units_finished([ids[1]], HistoryStatus.FAILED)
        units = recorder.units_of(run_a)
        assert [u.status for u in units] == [HistoryStatus.DONE, HistoryStatus.FAILED]
        assert [u.has_warnings for u in units] == [True, False]
        recorder.run_units_failed(run_a)
        assert {u.status for u in recorder.units_of(run_a)} == {HistoryStatus.FAILED}
        assert recorder.units_of(run_b) == []
        recorder.run_ended(run_a, HistoryStatus.FAILED)
        assert recorder.runs_of(1, 10)[0].status == HistoryStatus.FAILED

    def test_image_status_follows_the_latest_unit(self, recorder: Any) -> None:
        run_id = _run(recorder)
        (first,) = recorder.units_created(run_id, [NewUnit("/l/0", ["/z/a"])])
        recorder.image_cache_set(
            dataset_id=1, workflowtask_id=10, latest_unit={"/z/a": first}
        )
        assert recorder.image_status(1, 10) == {"/z/a": "submitted"}
        recorder.units_finished([first], HistoryStatus.FAILED)
        (second,) = recorder.units_created(run_id, [NewUnit("/l/1", ["/z/a"])])
        recorder.units_finished([second], HistoryStatus.DONE)
        recorder.image_cache_set(
            dataset_id=1, workflowtask_id=10, latest_unit={"/z/a": second}
        )
        assert recorder.image_status(1, 10) == {"/z/a": "done"}
        assert recorder.image_status(1, 10, ["/z/a", "/z/new"]) == {
            "/z/a": "done",
            "/z/new": "unset",
        }
        assert recorder.image_status(1, 11) == {}
        assert recorder.image_status(2, 10) == {}

    def test_task_applied_persists_images_and_drops_removed_cache(
        self, recorder: Any
    ) -> None:
        assert recorder.images_of(1) is None
        run_id = _run(recorder)
        ids = recorder.units_created(
            run_id, [NewUnit("/l/0", ["/z/a"]), NewUnit("/l/1", ["/z/b"])]
        )
        recorder.units_finished(ids, HistoryStatus.DONE)
        recorder.image_cache_set(
            dataset_id=1,
            workflowtask_id=10,
            latest_unit={"/z/a": ids[0], "/z/b": ids[1]},
        )
        images = [_image("/z/a", well="A01"), _image("/z/b", well="A02")]
        _applied(recorder, run_id, images, ImageChanges(created=images))
        assert recorder.images_of(1) == images
        kept = [_image("/z/a", well="B01")]
        _applied(
            recorder,
            run_id,
            kept,
            ImageChanges(updated=kept, removed=["/z/b"]),
        )
        assert recorder.images_of(1) == kept
        assert recorder.image_status(1, 10) == {"/z/a": "done"}
        assert recorder.images_of(2) is None

    def test_workflow_task_status_counts_images(self, recorder: Any) -> None:
        assert recorder.workflow_task_status(1, 10) is None
        run_id = _run(recorder)
        ids = recorder.units_created(
            run_id, [NewUnit(f"/l/{i}", [f"/z/{i}"]) for i in range(3)]
        )
        recorder.image_cache_set(
            dataset_id=1,
            workflowtask_id=10,
            latest_unit={f"/z/{i}": uid for i, uid in enumerate(ids)},
        )
        recorder.units_finished(ids[:2], HistoryStatus.DONE)
        recorder.units_finished(ids[2:], HistoryStatus.FAILED)
        recorder.run_ended(run_id, HistoryStatus.FAILED)
        status = recorder.workflow_task_status(1, 10)
        assert status == {
            "status": "failed",
            "num_available_images": 4,
            "num_submitted_images": 0,
            "num_done_images": 2,
            "num_failed_images": 1,
        }

    def test_ids_are_unique_across_threads(self, recorder: Any) -> None:
        run_ids: list[int] = []
        unit_ids: list[int] = []
        lock = threading.Lock()

        def work(dataset: int) -> None:
            for _ in range(20):
                run_id = _run(recorder, dataset=dataset)
                ids = recorder.units_created(
                    run_id, [NewUnit("/l", ["/z"]), NewUnit("/l", ["/z"])]
                )
                with lock:
                    run_ids.append(run_id)
                    unit_ids.extend(ids)

        threads = [threading.Thread(target=work, args=(d,)) for d in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(run_ids) == len(set(run_ids)) == 80
        assert len(unit_ids) == len(set(unit_ids)) == 160
        assert all(len(recorder.units_of(r)) == 2 for r in run_ids)
