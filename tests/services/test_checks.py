"""Pre-submission checks (services.md §11), after the reference's
`test_api_verify_image_types.py` (`test_verify_image_types`,
`test_check_non_processed_images`)."""

from __future__ import annotations

import pytest

from fractal_core import services as sv
from fractal_core.domain.history import HistoryUnitStatus
from fractal_core.engine.recorder import NewUnit
from fractal_core.images import IMAGE_STATUS_KEY
from fractal_core.repository.base import Store

from .support import ZARR_DIR
from .support import add_group
from .support import make_task


def _record(
    store: Store, ds: int, wft: int, status: dict[str, HistoryUnitStatus]
) -> None:
    """One history unit per image with the given final status."""
    recorder = store.recorder()
    run = recorder.run_started(
        dataset_id=ds,
        workflowtask_id=wft,
        job_id=None,
        task_id=None,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=len(status),
    )
    latest = {}
    for url, final in status.items():
        (unit,) = recorder.units_created(run, [NewUnit("/log", [url])])
        recorder.units_finished([unit], final)
        latest[url] = unit
    recorder.image_cache_set(dataset_id=ds, workflowtask_id=wft, latest_unit=latest)


def _setup(store: Store) -> tuple[int, int, int, list[int]]:
    project = sv.create_project(store, "p")
    pid = project.id
    assert pid is not None
    ds = sv.create_dataset(store, pid, "ds", zarr_dir=ZARR_DIR)
    assert ds.id is not None
    for i, types in enumerate(
        [{"a": True, "b": True}, {"a": False}, {"a": True, "b": True}]
    ):
        sv.add_image(store, pid, ds.id, {"zarr_url": f"{ZARR_DIR}/{i}", "types": types})
    group = add_group(
        store,
        [
            make_task("plain", "non_parallel"),
            make_task("typed", "non_parallel", output_types={"x": True}),
            make_task("conv", "converter_non_parallel"),
            make_task("next", "parallel"),
        ],
    )
    wf = sv.create_workflow(store, pid, "wf")
    assert wf.id is not None
    wfts = [
        sv.create_workflow_task(store, pid, wf.id, t.id)  # type: ignore[arg-type]
        for t in (group.task_list[0], group.task_list[3], group.task_list[1])
    ]
    wfts.append(sv.create_workflow_task(store, pid, wf.id, group.task_list[3].id))  # type: ignore[arg-type]
    wfts.append(sv.create_workflow_task(store, pid, wf.id, group.task_list[2].id))  # type: ignore[arg-type]
    wfts.append(sv.create_workflow_task(store, pid, wf.id, group.task_list[3].id))  # type: ignore[arg-type]
    return pid, ds.id, wf.id, [w.id for w in wfts]  # type: ignore[misc]


def test_verify_unique_types(store: Store) -> None:
    pid, ds, _, wfts = _setup(store)
    assert sv.verify_unique_types(store, pid, ds, wfts[0]) == ["a", "b"]
    assert (
        sv.verify_unique_types(store, pid, ds, wfts[0], type_filters={"a": True}) == []
    )
    _record(
        store,
        ds,
        wfts[0],
        {
            f"{ZARR_DIR}/0": HistoryUnitStatus.DONE,
            f"{ZARR_DIR}/1": HistoryUnitStatus.DONE,
        },
    )
    done = {IMAGE_STATUS_KEY: ["done"]}
    assert sv.verify_unique_types(store, pid, ds, wfts[0], attribute_filters=done) == [
        "a",
        "b",
    ]
    unset = {IMAGE_STATUS_KEY: ["unset"]}
    assert (
        sv.verify_unique_types(store, pid, ds, wfts[0], attribute_filters=unset) == []
    )
    other = sv.create_project(store, "other")
    with pytest.raises(sv.WrongParentError):
        sv.verify_unique_types(store, other.id, ds, wfts[0])  # type: ignore[arg-type]


def test_check_non_processed_images(store: Store) -> None:
    pid, ds, wf, wfts = _setup(store)
    urls = [f"{ZARR_DIR}/{i}" for i in range(3)]
    # first task: nothing to check
    assert sv.check_non_processed_images(store, pid, ds, wf, wfts[0]) == []
    # previous task (plain, non_parallel) never ran: every image unprocessed
    assert sv.check_non_processed_images(store, pid, ds, wf, wfts[1]) == urls
    _record(
        store,
        ds,
        wfts[0],
        {urls[0]: HistoryUnitStatus.DONE, urls[2]: HistoryUnitStatus.FAILED},
    )
    assert sv.check_non_processed_images(store, pid, ds, wf, wfts[1]) == urls[1:]
    assert (
        sv.check_non_processed_images(
            store, pid, ds, wf, wfts[1], type_filters={"b": True}
        )
        == urls[2:]
    )
    # previous task with output types, or a converter: skipped
    assert sv.check_non_processed_images(store, pid, ds, wf, wfts[3]) == []
    assert sv.check_non_processed_images(store, pid, ds, wf, wfts[5]) == []
