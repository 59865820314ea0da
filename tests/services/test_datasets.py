"""Datasets and their images (services.md §4-5), after the reference's
`test_api_dataset.py` and `test_api_dataset_images.py`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core import services as sv
from fractal_core.domain.history import HistoryUnitStatus
from fractal_core.domain.job import JobStatus
from fractal_core.engine.recorder import NewUnit
from fractal_core.images.errors import DuplicateImageError
from fractal_core.images.errors import ImageNotFoundError
from fractal_core.images.errors import ImageOutsideZarrDirError
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import PaginationError
from fractal_core.repository.base import Store

from .support import ZARR_DIR
from .support import add_job
from .support import image


def _project(store: Store, name: str = "My Project") -> int:
    project = sv.create_project(store, name)
    assert project.id is not None
    return project.id


def _dataset(store: Store, project_id: int, urls: list[str] | None = None) -> int:
    ds = sv.create_dataset(store, project_id, "ds", zarr_dir=ZARR_DIR)
    assert ds.id is not None
    for url in urls or []:
        sv.add_image(store, project_id, ds.id, image(url))
    return ds.id


def test_new_dataset_v2(store: Store) -> None:
    """`test_new_dataset_v2`: names need not be unique; list, rename, delete."""
    pid = _project(store)
    a = sv.create_dataset(store, pid, "dataset", zarr_dir="/data//zarr/")
    b = sv.create_dataset(store, pid, "dataset", zarr_dir=ZARR_DIR)
    assert a.zarr_dir == ZARR_DIR  # normalised
    assert [d.id for d in sv.list_datasets(store, pid)] == [a.id, b.id]
    assert [d.id for d in sv.list_datasets(store)] == [a.id, b.id]
    assert a.id is not None and b.id is not None
    renamed = sv.update_dataset(store, pid, a.id, name="renamed")
    assert sv.get_dataset(store, pid, a.id).name == renamed.name == "renamed"
    sv.delete_dataset(store, pid, a.id)
    with pytest.raises(NotFoundError):
        sv.delete_dataset(store, pid, a.id)
    assert [d.id for d in sv.list_datasets(store, pid)] == [b.id]


def test_post_dataset(store: Store) -> None:
    """`test_post_dataset`: zarr_dir derived from project_dir, ids and names."""
    pid = _project(store, "My Project")
    ds = sv.create_dataset(store, pid, "My Dataset", project_dir="/home/u/")
    assert ds.zarr_dir == f"/home/u/fractal/{pid}_my_project/{ds.id}_my_dataset"
    assert ds.id is not None
    assert sv.get_dataset(store, pid, ds.id).zarr_dir == ds.zarr_dir
    with pytest.raises(sv.ZarrDirRequiredError):
        sv.create_dataset(store, pid, "x")
    before = sv.list_datasets(store, pid)
    with pytest.raises(ValidationError):  # filters validated, then dropped
        sv.create_dataset(
            store, pid, "x", zarr_dir=ZARR_DIR, attribute_filters={"a": [[1]]}
        )
    assert sv.list_datasets(store, pid) == before
    kept = sv.create_dataset(
        store, pid, "x", zarr_dir=ZARR_DIR, attribute_filters={"a": [1]}
    )
    assert kept.id is not None


def test_dataset_under_another_project(store: Store) -> None:
    """`test_unit_aux_functions`: missing vs. under another parent."""
    p1, p2 = _project(store, "p1"), _project(store, "p2")
    ds = _dataset(store, p1)
    with pytest.raises(sv.WrongParentError) as exc:
        sv.get_dataset(store, p2, ds)
    assert (exc.value.kind, exc.value.object_id, exc.value.parent_id) == (
        "dataset",
        ds,
        p2,
    )
    with pytest.raises(NotFoundError):
        sv.get_dataset(store, p1, ds + 100)
    with pytest.raises(NotFoundError):  # the project is looked up first
        sv.get_dataset(store, 999, ds + 100)


def test_patch_dataset(store: Store) -> None:
    """`test_patch_dataset`: zarr_dir editable while empty, frozen after."""
    pid = _project(store)
    ds = _dataset(store, pid)
    updated = sv.update_dataset(store, pid, ds, zarr_dir="/other/zarr/")
    assert updated.zarr_dir == "/other/zarr"
    sv.add_image(store, pid, ds, image("/other/zarr/a"))
    with pytest.raises(sv.ZarrDirFrozenError, match="non-empty image list"):
        sv.update_dataset(store, pid, ds, name="new", zarr_dir=ZARR_DIR)
    current = sv.get_dataset(store, pid, ds)
    assert (current.name, current.zarr_dir) == ("ds", "/other/zarr")


def test_delete_dataset_cascade_jobs(store: Store) -> None:
    """`test_delete_dataset_cascade_jobs`: a submitted job blocks; others lose
    their dataset_id."""
    pid = _project(store)
    ds = _dataset(store, pid)
    done = add_job(store, project_id=pid, dataset_id=ds, status=JobStatus.DONE)
    running = add_job(store, project_id=pid, dataset_id=ds)
    with pytest.raises(sv.ActiveJobError, match=f"dataset {ds} because") as exc:
        sv.delete_dataset(store, pid, ds)
    assert exc.value.job_ids == [running.id]
    with store.unit_of_work() as uow:
        uow.jobs.update(running.model_copy(update={"status": JobStatus.FAILED}))
        uow.commit()
    sv.delete_dataset(store, pid, ds)
    jobs = sv.list_jobs(store, project_id=pid)
    assert [(j.id, j.dataset_id) for j in jobs] == [(done.id, None), (running.id, None)]


def test_dataset_import(store: Store) -> None:
    """`test_dataset_import`: foreign zarr_url refused, legacy filters ignored."""
    pid = _project(store)
    data = {
        "name": "imported",
        "zarr_dir": ZARR_DIR,
        "images": [image(f"{ZARR_DIR}/a", x=1), image(f"{ZARR_DIR}/b")],
        "filters": {"attributes": {}, "types": {}},
        "type_filters": {"x": True},
    }
    ds = sv.import_dataset(store, pid, data)
    assert ds.id is not None
    assert sv.export_dataset(store, pid, ds.id) == {
        "name": "imported",
        "zarr_dir": ZARR_DIR,
        "images": [image(f"{ZARR_DIR}/a", x=1), image(f"{ZARR_DIR}/b")],
    }
    bad = dict(data, images=[image("/elsewhere/a")])
    with pytest.raises(ValidationError, match="zarr_dir"):
        sv.import_dataset(store, pid, bad)
    duplicated = dict(data, images=[image(f"{ZARR_DIR}/a"), image(f"{ZARR_DIR}/a")])
    with pytest.raises(ValidationError, match="Duplicated"):
        sv.import_dataset(store, pid, duplicated)
    assert len(sv.list_datasets(store, pid)) == 1


def test_query_images(store: Store) -> None:
    """`test_query_images`: pagination with clamping, zarr_url, filters,
    aggregates over every image."""
    pid = _project(store)
    ds = _dataset(store, pid)
    for i in range(5):
        sv.add_image(
            store,
            pid,
            ds,
            {
                "zarr_url": f"{ZARR_DIR}/{i}",
                "attributes": {"well": "A" if i < 3 else "B"},
                "types": {"3D": i % 2 == 0},
            },
        )
    everything = sv.query_images(store, pid, ds)
    assert everything.total_count == 5 and len(everything.items) == 5
    big = sv.query_images(store, pid, ds, page_size=6)
    assert (big.page, big.page_size, len(big.items)) == (1, 6, 5)
    past = sv.query_images(store, pid, ds, page=9, page_size=2)
    assert past.page == 3 and [i["zarr_url"] for i in past.items] == [f"{ZARR_DIR}/4"]
    one = sv.query_images(store, pid, ds, zarr_url=f"{ZARR_DIR}/2/")
    assert [i["zarr_url"] for i in one.items] == [f"{ZARR_DIR}/2"]  # normalised
    filtered = sv.query_images(
        store, pid, ds, type_filters={"3D": True}, attribute_filters={"well": ["A"]}
    )
    assert [i["zarr_url"] for i in filtered.items] == [f"{ZARR_DIR}/0", f"{ZARR_DIR}/2"]
    assert filtered.total_count == 2
    assert filtered.attributes == {"well": ["A", "B"]} and filtered.types == ["3D"]
    with pytest.raises(PaginationError):
        sv.query_images(store, pid, ds, page=2)


def test_post_new_image(store: Store) -> None:
    """`test_post_new_image`: inside zarr_dir, not zarr_dir itself, not twice."""
    pid = _project(store)
    ds = _dataset(store, pid, [f"{ZARR_DIR}/a"])
    stored = sv.add_image(store, pid, ds, {"zarr_url": f"{ZARR_DIR}//b/"})
    assert stored["zarr_url"] == f"{ZARR_DIR}/b"
    for url in ("/other/c", ZARR_DIR, "/data/zarr2/c"):
        with pytest.raises(ImageOutsideZarrDirError):
            sv.add_image(store, pid, ds, image(url))
    with pytest.raises(DuplicateImageError):
        sv.add_image(store, pid, ds, image(f"{ZARR_DIR}/a"))
    urls = [i["zarr_url"] for i in sv.query_images(store, pid, ds).items]
    assert urls == [f"{ZARR_DIR}/a", f"{ZARR_DIR}/b"]


def test_patch_images(store: Store) -> None:
    """`test_patch_images`: attributes/types replaced wholesale; missing url."""
    pid = _project(store)
    ds = _dataset(store, pid)
    sv.add_image(
        store,
        pid,
        ds,
        {
            "zarr_url": f"{ZARR_DIR}/a",
            "attributes": {"x": 1, "y": 2},
            "types": {"t": True},
        },
    )
    patched = sv.patch_image(store, pid, ds, f"{ZARR_DIR}/a/", attributes={"z": 3})
    assert patched["attributes"] == {"z": 3} and patched["types"] == {"t": True}
    patched = sv.patch_image(store, pid, ds, f"{ZARR_DIR}/a", types={"u": False})
    assert sv.get_image(store, pid, ds, f"{ZARR_DIR}/a") == {
        "zarr_url": f"{ZARR_DIR}/a",
        "origin": None,
        "attributes": {"z": 3},
        "types": {"u": False},
    }
    with pytest.raises(ImageNotFoundError):
        sv.patch_image(store, pid, ds, f"{ZARR_DIR}/missing", attributes={})
    with pytest.raises(ValidationError):
        sv.patch_image(store, pid, ds, f"{ZARR_DIR}/a", attributes={"bad": [1]})


def test_delete_images(store: Store) -> None:
    """`test_delete_images`: the image goes, and its history status with it."""
    pid = _project(store)
    a, b = f"{ZARR_DIR}/a", f"{ZARR_DIR}/b"
    ds = _dataset(store, pid, [a, b])
    recorder = store.recorder()
    run_id = recorder.run_started(
        dataset_id=ds,
        workflowtask_id=7,
        job_id=None,
        task_id=None,
        workflowtask_dump={},
        task_group_dump={},
        num_available_images=2,
    )
    units = recorder.units_created(run_id, [NewUnit("/log", [a, b])])
    recorder.units_finished(units, HistoryUnitStatus.DONE)
    recorder.image_cache_set(
        dataset_id=ds, workflowtask_id=7, latest_unit={a: units[0], b: units[0]}
    )
    sv.delete_image(store, pid, ds, a + "/")
    assert [i["zarr_url"] for i in sv.query_images(store, pid, ds).items] == [b]
    with pytest.raises(ImageNotFoundError):
        sv.delete_image(store, pid, ds, a)
    statuses = recorder.image_status(ds, 7)
    assert statuses.get(b) == "done"
    assert a not in statuses
