"""`MemoryStore` against the repository contract and the engine's recorder
contract, plus what only an in-memory store can promise."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.project import Project
from fractal_core.engine.recorder import ImageChanges
from fractal_core.engine.recorder import TaskApplied
from fractal_core.images.image_list import ImageList
from fractal_core.repository import MemoryStore
from fractal_core.repository.base import ConflictError
from fractal_core.repository.base import RepositoryError
from fractal_core.repository.base import Store
from tests.engine.recorder_contract import RecorderContract
from tests.repository.contract import StoreContract
from tests.repository.contract import make_job


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = MemoryStore()
        yield store
        store.close()


class TestMemoryRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self) -> object:
        return MemoryStore().recorder()


# --- what only the in-memory store promises ----------------------------------------


def test_commit_rechecks_the_submitted_job_rule() -> None:
    """Two units of work that each saw no submitted job: the second commit loses."""
    store = MemoryStore()
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="p"))
        ds = uow.datasets.add(Dataset(name="d", project_id=project.id, zarr_dir="/z"))
        uow.commit()
    first, second = store.unit_of_work(), store.unit_of_work()
    first.jobs.add(make_job(project_id=project.id, dataset_id=ds.id))
    second.jobs.add(make_job(project_id=project.id, dataset_id=ds.id))
    first.commit()
    with pytest.raises(ConflictError, match=f"Dataset {ds.id}"):
        second.commit()
    second.rollback()
    assert len(second.jobs.list(dataset_id=ds.id)) == 1


def test_concurrent_commits_merge_instead_of_overwriting() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        a = uow.projects.add(Project(name="a"))
        b = uow.projects.add(Project(name="b"))
        uow.commit()
    one, two = store.unit_of_work(), store.unit_of_work()
    one.projects.update(a.model_copy(update={"name": "a2"}))
    two.projects.update(b.model_copy(update={"name": "b2"}))
    two.projects.add(Project(name="c"))
    one.commit()
    # `two` still reads its snapshot, then sees everything once it committed
    assert [p.name for p in two.projects.list()] == ["a", "b2", "c"]
    two.commit()
    assert [p.name for p in two.projects.list()] == ["a2", "b2", "c"]


def test_many_threads_lose_nothing() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="p"))
        ds = uow.datasets.add(Dataset(name="d", project_id=project.id, zarr_dir="/z"))
        uow.commit()
    assert ds.id is not None
    dataset_id = ds.id

    def work(worker: int) -> None:
        for i in range(25):
            with store.unit_of_work() as uow:
                uow.projects.add(Project(name=f"w{worker}-{i}"))
                uow.datasets.apply_image_changes(
                    dataset_id,
                    ImageChanges(
                        created=[
                            {
                                "zarr_url": f"/z/{worker}/{i}",
                                "origin": None,
                                "attributes": {"worker": worker},
                                "types": {},
                            }
                        ]
                    ),
                )
                uow.commit()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with store.unit_of_work() as uow:
        projects = uow.projects.list()
        images = uow.datasets.images(dataset_id)
    ids = [p.id for p in projects]
    assert len(ids) == len(set(ids)) == 201
    # images behave as rows: concurrent appends to one dataset all survive
    assert sorted(images.zarr_urls()) == sorted(
        f"/z/{w}/{i}" for w in range(8) for i in range(25)
    )
    for worker in range(8):  # each worker's images in its own commit order
        mine = [u for u in images.zarr_urls() if u.startswith(f"/z/{worker}/")]
        assert mine == [f"/z/{worker}/{i}" for i in range(25)]


def test_replay_keeps_rows_of_other_writers() -> None:
    """Changes replayed over another commit: updates of images removed
    meanwhile do nothing, a url created twice is a conflict."""
    store = MemoryStore()
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="p"))
        ds = uow.datasets.add(
            Dataset(
                name="d",
                project_id=project.id,
                zarr_dir="/z",
                images=ImageList([_img("/z/a"), _img("/z/b")]),
            )
        )
        uow.commit()
    assert ds.id is not None
    one, two, three = (store.unit_of_work() for _ in range(3))
    one.datasets.apply_image_changes(ds.id, ImageChanges(removed=["/z/a"]))
    two.datasets.apply_image_changes(
        ds.id, ImageChanges(updated=[_img("/z/a", n=1), _img("/z/b", n=2)])
    )
    three.datasets.apply_image_changes(ds.id, ImageChanges(created=[_img("/z/c")]))
    one.commit()
    two.commit()
    assert two.datasets.images(ds.id).to_list() == [_img("/z/b", n=2)]
    one.datasets.apply_image_changes(ds.id, ImageChanges(created=[_img("/z/c")]))
    one.commit()
    with pytest.raises(ConflictError, match="/z/c"):
        three.commit()
    three.rollback()
    assert three.datasets.images(ds.id).zarr_urls() == ["/z/b", "/z/c"]


def _img(url: str, **attributes: object) -> dict[str, object]:
    return {"zarr_url": url, "origin": None, "attributes": attributes, "types": {}}


def test_unknown_dataset_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    recorder = store.recorder()
    caplog.set_level(logging.WARNING, logger="fractal_core.repository.memory")
    recorder.task_applied(
        TaskApplied(
            job_id=3,
            dataset_id=99,
            workflowtask_id=1,
            run_id=1,
            changes=ImageChanges(),
            images=ImageList(),
            num_tasks=0,
            num_new_images=0,
        )
    )
    assert "99" in caplog.text and "not in the store" in caplog.text
    assert recorder.images_of(99) == []


def test_a_closed_store_refuses_units_of_work() -> None:
    store = MemoryStore()
    store.close()
    with pytest.raises(RepositoryError, match="closed"):
        store.unit_of_work()


def test_ids_of_rolled_back_units_are_not_reused() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        lost = uow.projects.add(Project(name="lost"))
    with store.unit_of_work() as uow:
        kept = uow.projects.add(Project(name="kept"))
        uow.commit()
    assert lost.id is not None and kept.id is not None and kept.id > lost.id


def test_an_invalid_image_changes_nothing() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="p"))
        ds = uow.datasets.add(
            Dataset(
                name="d",
                project_id=project.id,
                zarr_dir="/z",
                images=ImageList([_img("/z/a")]),
            )
        )
        assert ds.id is not None
        bad = {"zarr_url": "relative/path", "attributes": {}, "types": {}}
        with pytest.raises(ValueError):
            uow.datasets.apply_image_changes(
                ds.id, ImageChanges(created=[_img("/z/b"), bad], removed=["/z/a"])
            )
        assert uow.datasets.images(ds.id).zarr_urls() == ["/z/a"]
