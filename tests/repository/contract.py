"""The contract every `Store` passes, unchanged (memory, SQLite, PostgreSQL).

To check an implementation, subclass `StoreContract` in a test module and give
it a `store` fixture yielding a fresh, empty store (and closing it after).
Every assertion goes through `fractal_core.repository.base`: nothing here
knows what holds the data.

Decisions this suite pins (read them before implementing a store):

- Ids are integers handed out per kind, increasing, never reused.
- `add` returns the stored object (ids filled in); `get` returns a fresh copy;
  neither shares objects with the caller.
- A dataset or a workflow needs an existing `project_id` (`NotFoundError`
  naming the project otherwise). A job's `project_id`, `dataset_id`,
  `workflow_id`, when set, must exist.
- A workflow task refers to its task by `task_id`, the id of a task stored in
  a task group; the embedded `task` is loaded back from the task groups on
  every read (so a task changed through its group shows in workflows). A task
  without an id is refused (`RepositoryError`), an unknown id raises
  `NotFoundError` naming the task.
- Deleting a task group whose tasks are used by a workflow raises
  `ConflictError` (the reference's foreign key forbids it); its activities stay
  with `taskgroupv2_id = None`.
- Cascades (services.md §1.9): a project takes its datasets (and their images
  and history) and workflows; a workflow takes its workflow tasks and their
  image-status cache (runs and units stay); jobs outlive everything with the
  ids of deleted objects set to None.
- `apply_image_changes`: a created url already present raises `ConflictError`;
  an updated or removed url that is absent raises `NotFoundError`.
- `query_images` follows the reference's image query (services.md §5.1,
  clamped pagination §2.4); bad filters raise `FilterError`, bad pages
  `PaginationError`.
- The recorder's `task_applied` on a dataset the store holds replaces the
  dataset's images; for a dataset id the store does not hold it keeps the
  history and writes no images. `job_ended` and `executor_error_log` on a
  stored job update that job.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TypeVar

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.job import Job
from fractal_core.domain.job import JobStatus
from fractal_core.domain.project import Project
from fractal_core.domain.task import Task
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.domain.task_group import TaskGroupActivityAction
from fractal_core.domain.task_group import TaskGroupActivityStatus
from fractal_core.domain.workflow import Workflow
from fractal_core.domain.workflow_task import WorkflowTask
from fractal_core.engine.recorder import HistoryStatus
from fractal_core.engine.recorder import ImageChanges
from fractal_core.engine.recorder import NewUnit
from fractal_core.engine.recorder import TaskApplied
from fractal_core.errors import FilterError
from fractal_core.images.image_list import ImageList
from fractal_core.images.tools import aggregate_attributes
from fractal_core.images.tools import aggregate_types
from fractal_core.repository.base import ConflictError
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import PaginationError
from fractal_core.repository.base import RepositoryError
from fractal_core.repository.base import Store
from fractal_core.repository.base import StoreRecorder
from fractal_core.repository.base import UnitOfWork
from fractal_core.repository.base import clamped_page
from tests.repository.strategies import URL_POOL
from tests.repository.strategies import ZARR_DIR
from tests.repository.strategies import applied
from tests.repository.strategies import change_step
from tests.repository.strategies import pool_images
from tests.strategies import attribute_filters
from tests.strategies import type_filters

T = TypeVar("T")

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    # The same property runs once per store class (memory, SQLite, PostgreSQL):
    # each run gets a fresh store from its own fixture, so sharing is safe.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,
    ],
)


# --- builders ---------------------------------------------------------------


def image(url: str, **attributes: Any) -> dict[str, Any]:
    return {"zarr_url": url, "origin": None, "attributes": attributes, "types": {}}


def make_group(
    pkg: str = "my-pkg", version: str = "1.0", names: tuple[str, ...] = ("a", "b")
) -> TaskGroup:
    return TaskGroup(
        origin="other",
        pkg_name=pkg,
        version=version,
        path=f"/tasks/{pkg}/{version}",
        pinned_package_versions_pre={"numpy": "2.0"},
        task_list=[
            Task(
                name=name,
                type="parallel",
                command_parallel=f"python3 /tasks/{pkg}/{name}.py",
                version=version,
                input_types={"3D": True},
                meta_parallel={"cpus": 2},
                args_schema_parallel={"type": "object", "properties": {}},
                tags=["x", "y"],
            )
            for name in names
        ],
    )


def make_job(
    *,
    project_id: int | None = None,
    dataset_id: int | None = None,
    workflow_id: int | None = None,
    status: JobStatus = JobStatus.SUBMITTED,
) -> Job:
    return Job(
        project_id=project_id,
        dataset_id=dataset_id,
        workflow_id=workflow_id,
        user_email="me@example.org",
        project_dump={"id": project_id, "name": "p"},
        first_task_index=0,
        last_task_index=1,
        status=status,
        attribute_filters={"well": ["A01"]},
        type_filters={"3D": True},
        working_dir="/jobs/1",
    )


def assert_not_found(exc: pytest.ExceptionInfo[Any], kind: str, object_id: Any) -> None:
    """The error names the kind (any case, `_` or space) and the id."""
    message = str(exc.value).lower().replace("_", " ")
    assert kind.lower() in message or kind.lower().replace(" ", "") in message, message
    assert re.search(rf"(?<![\w/]){re.escape(str(object_id))}(?!\w)", message), message


# --- the suite ------------------------------------------------------------------


class _Base:
    @pytest.fixture
    def store(self) -> Iterator[Store]:  # pragma: no cover - overridden
        raise NotImplementedError

    # helpers committing one thing each, returning the stored object
    @staticmethod
    def commit(store: Store, fn: Callable[[UnitOfWork], T]) -> T:
        with store.unit_of_work() as uow:
            result = fn(uow)
            uow.commit()
        return result

    def project(self, store: Store, name: str = "proj") -> Project:
        return self.commit(store, lambda uow: uow.projects.add(Project(name=name)))

    def dataset(
        self,
        store: Store,
        project_id: int,
        images: list[dict[str, Any]] | None = None,
        name: str = "ds",
    ) -> Dataset:
        ds = Dataset(
            name=name,
            project_id=project_id,
            zarr_dir=ZARR_DIR,
            images=ImageList(images or []),
        )
        return self.commit(store, lambda uow: uow.datasets.add(ds))

    def group(self, store: Store, **kwargs: Any) -> TaskGroup:
        group = make_group(**kwargs)
        return self.commit(store, lambda uow: uow.task_groups.add(group))

    def workflow(
        self, store: Store, project_id: int, tasks: list[Task], name: str = "wf"
    ) -> Workflow:
        wf = Workflow(name=name, project_id=project_id)
        for task in tasks:
            wf.append_task(task, args_parallel={"x": 1}, validate_args=False)
        return self.commit(store, lambda uow: uow.workflows.add(wf))


class StoreShapeContract(_Base):
    def test_store_and_unit_of_work_implement_the_protocols(self, store: Store) -> None:
        assert isinstance(store, Store)
        with store.unit_of_work() as uow:
            assert isinstance(uow, UnitOfWork)
        assert isinstance(store.recorder(), StoreRecorder)


class ProjectContract(_Base):
    def test_add_get_list_update_delete(self, store: Store) -> None:
        first = self.project(store, "first")
        second = self.project(store, "second")
        assert first.id is not None and second.id is not None
        assert second.id > first.id
        with store.unit_of_work() as uow:
            assert uow.projects.get(first.id) == first
            assert [p.id for p in uow.projects.list()] == [first.id, second.id]
            renamed = first.model_copy(update={"name": "renamed"})
            uow.projects.update(renamed)
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.projects.get(first.id).name == "renamed"
            assert (
                uow.projects.get(first.id).timestamp_created == first.timestamp_created
            )
            uow.projects.delete(first.id)
            uow.commit()
        with store.unit_of_work() as uow:
            assert [p.id for p in uow.projects.list()] == [second.id]

    def test_objects_are_never_shared(self, store: Store) -> None:
        mine = Project(name="mine", user_ids=[1])
        with store.unit_of_work() as uow:
            stored = uow.projects.add(mine)
            uow.commit()
        mine.user_ids.append(2)
        stored.user_ids.append(3)
        with store.unit_of_work() as uow:
            got = uow.projects.get(stored.id)  # type: ignore[arg-type]
            assert got.user_ids == [1]
            got.user_ids.append(4)
            assert uow.projects.get(stored.id).user_ids == [1]  # type: ignore[arg-type]

    def test_missing_ids(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            with pytest.raises(NotFoundError) as exc:
                uow.projects.get(4242)
            assert_not_found(exc, "project", 4242)
            with pytest.raises(NotFoundError) as exc:
                uow.projects.delete(4243)
            assert_not_found(exc, "project", 4243)
            with pytest.raises(NotFoundError) as exc:
                uow.projects.update(Project(id=4244, name="x"))
            assert_not_found(exc, "project", 4244)

    def test_ids_are_never_reused(self, store: Store) -> None:
        first = self.project(store)
        self.commit(store, lambda uow: uow.projects.delete(first.id))  # type: ignore[arg-type]
        again = self.project(store)
        assert again.id is not None and first.id is not None and again.id > first.id


class UnitOfWorkContract(_Base):
    def test_changes_vanish_unless_committed(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            uow.projects.add(Project(name="lost"))
        with store.unit_of_work() as uow:
            assert uow.projects.list() == []

    def test_exception_rolls_back_and_propagates(self, store: Store) -> None:
        kept = self.project(store, "kept")
        with pytest.raises(RuntimeError, match="boom"), store.unit_of_work() as uow:
            uow.projects.add(Project(name="lost"))
            uow.projects.delete(kept.id)  # type: ignore[arg-type]
            raise RuntimeError("boom")
        with store.unit_of_work() as uow:
            assert [p.name for p in uow.projects.list()] == ["kept"]

    def test_explicit_rollback_then_commit(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            uow.projects.add(Project(name="lost"))
            uow.rollback()
            assert uow.projects.list() == []
            uow.projects.add(Project(name="kept"))
            uow.commit()
            uow.projects.add(Project(name="after-commit"))
        with store.unit_of_work() as uow:
            assert [p.name for p in uow.projects.list()] == ["kept"]

    def test_other_units_see_changes_only_after_commit(self, store: Store) -> None:
        with store.unit_of_work() as writer:
            stored = writer.projects.add(Project(name="p"))
            with store.unit_of_work() as reader:
                assert reader.projects.list() == []
            writer.commit()
        with store.unit_of_work() as reader:
            assert reader.projects.get(stored.id) == stored  # type: ignore[arg-type]

    def test_image_changes_stay_private_until_commit(self, store: Store) -> None:
        project = self.project(store)
        x, y = f"{ZARR_DIR}/x", f"{ZARR_DIR}/y"
        ds = self.dataset(store, project.id, [image(x)])  # type: ignore[arg-type]
        assert ds.id is not None
        with store.unit_of_work() as writer:
            writer.datasets.apply_image_changes(
                ds.id, ImageChanges(created=[image(y)], removed=[x])
            )
            assert writer.datasets.images(ds.id).zarr_urls() == [y]
            with store.unit_of_work() as reader:
                assert reader.datasets.images(ds.id).zarr_urls() == [x]
            writer.commit()
        with store.unit_of_work() as reader:
            assert reader.datasets.images(ds.id).zarr_urls() == [y]

    def test_ids_survive_commit(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            project = uow.projects.add(Project(name="p"))
            ds = uow.datasets.add(
                Dataset(name="d", project_id=project.id, zarr_dir=ZARR_DIR)
            )
            uow.commit()
        with store.unit_of_work() as uow:
            assert uow.datasets.get(ds.id).project_id == project.id  # type: ignore[arg-type]


class DatasetContract(_Base):
    def test_round_trip_keeps_images_in_order(self, store: Store) -> None:
        project = self.project(store)
        urls = [f"{ZARR_DIR}/{name}" for name in ("c", "a", "b")]
        ds = self.dataset(store, project.id, [image(u, well=u[-1]) for u in urls])  # type: ignore[arg-type]
        assert ds.id is not None and ds.project_id == project.id
        with store.unit_of_work() as uow:
            got = uow.datasets.get(ds.id)
            assert got == ds
            assert got.images.zarr_urls() == urls
            assert uow.datasets.images(ds.id).to_list() == ds.images.to_list()
            bare = uow.datasets.get(ds.id, with_images=False)
            assert len(bare.images) == 0 and bare.name == ds.name
            listed = uow.datasets.list(project.id)
            assert [d.id for d in listed] == [ds.id]
            assert len(listed[0].images) == 0

    def test_list_by_project_and_update(self, store: Store) -> None:
        p1, p2 = self.project(store, "p1"), self.project(store, "p2")
        a = self.dataset(store, p1.id, [image(f"{ZARR_DIR}/x")])  # type: ignore[arg-type]
        b = self.dataset(store, p2.id)  # type: ignore[arg-type]
        c = self.dataset(store, p1.id)  # type: ignore[arg-type]
        with store.unit_of_work() as uow:
            assert [d.id for d in uow.datasets.list()] == [a.id, b.id, c.id]
            assert [d.id for d in uow.datasets.list(p1.id)] == [a.id, c.id]
            changed = a.model_copy(update={"name": "new", "images": ImageList()})
            uow.datasets.update(changed)
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.datasets.get(a.id)  # type: ignore[arg-type]
            assert got.name == "new"
            assert got.images.zarr_urls() == [f"{ZARR_DIR}/x"]  # images untouched

    def test_dataset_needs_a_project(self, store: Store) -> None:
        with store.unit_of_work() as uow, pytest.raises(NotFoundError) as exc:
            uow.datasets.add(Dataset(name="d", project_id=777, zarr_dir=ZARR_DIR))
        assert_not_found(exc, "project", 777)

    def test_missing_dataset(self, store: Store) -> None:
        calls: list[Callable[[UnitOfWork], Any]] = [
            lambda uow: uow.datasets.get(99),
            lambda uow: uow.datasets.get(99, with_images=False),
            lambda uow: uow.datasets.delete(99),
            lambda uow: uow.datasets.update(
                Dataset(id=99, name="d", project_id=1, zarr_dir=ZARR_DIR)
            ),
            lambda uow: uow.datasets.images(99),
            lambda uow: uow.datasets.query_images(99),
            lambda uow: uow.datasets.apply_image_changes(99, ImageChanges()),
            lambda uow: uow.datasets.replace_images(99, ImageList()),
        ]
        with store.unit_of_work() as uow:
            for call in calls:
                with pytest.raises(NotFoundError) as exc:
                    call(uow)
                assert_not_found(exc, "dataset", 99)

    def test_delete_takes_images(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id, [image(f"{ZARR_DIR}/x")])  # type: ignore[arg-type]
        self.commit(store, lambda uow: uow.datasets.delete(ds.id))  # type: ignore[arg-type]
        with store.unit_of_work() as uow:
            with pytest.raises(NotFoundError):
                uow.datasets.images(ds.id)  # type: ignore[arg-type]
            assert uow.datasets.list() == []

    def test_replace_images(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id, [image(f"{ZARR_DIR}/x")])  # type: ignore[arg-type]
        new = ImageList([image(f"{ZARR_DIR}/z", n=1), image(f"{ZARR_DIR}/y", n=2)])
        self.commit(store, lambda uow: uow.datasets.replace_images(ds.id, new))  # type: ignore[arg-type]
        new.remove(f"{ZARR_DIR}/z")  # the store kept its own copy
        with store.unit_of_work() as uow:
            assert uow.datasets.images(ds.id).zarr_urls() == [  # type: ignore[arg-type]
                f"{ZARR_DIR}/z",
                f"{ZARR_DIR}/y",
            ]

    def test_apply_image_changes_refuses_what_does_not_fit(self, store: Store) -> None:
        project = self.project(store)
        present = f"{ZARR_DIR}/x"
        ds = self.dataset(store, project.id, [image(present)])  # type: ignore[arg-type]
        absent = f"{ZARR_DIR}/nope"
        with (
            store.unit_of_work() as uow,
            pytest.raises(ConflictError, match=re.escape(present)),
        ):
            uow.datasets.apply_image_changes(
                ds.id,  # type: ignore[arg-type]
                ImageChanges(created=[image(present)]),
            )
        for changes in (
            ImageChanges(updated=[image(absent)]),
            ImageChanges(removed=[absent]),
        ):
            with (
                store.unit_of_work() as uow,
                pytest.raises(NotFoundError, match=re.escape(absent)),
            ):
                uow.datasets.apply_image_changes(ds.id, changes)  # type: ignore[arg-type]
        with store.unit_of_work() as uow:
            assert uow.datasets.images(ds.id).zarr_urls() == [present]  # type: ignore[arg-type]

    @PROPERTY
    @given(data=st.data(), initial=pool_images())
    def test_apply_image_changes_equals_image_list(
        self, store: Store, data: st.DataObject, initial: list[dict[str, Any]]
    ) -> None:
        with store.unit_of_work() as uow:
            project = uow.projects.add(Project(name="p"))
            ds = uow.datasets.add(
                Dataset(
                    name="d",
                    project_id=project.id,
                    zarr_dir=ZARR_DIR,
                    images=ImageList(initial),
                )
            )
            uow.commit()
        assert ds.id is not None
        expected = ImageList(initial)
        for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
            changes = change_step(data, expected)
            expected = applied(expected, changes)
            with store.unit_of_work() as uow:
                uow.datasets.apply_image_changes(ds.id, changes)
                uow.commit()
            with store.unit_of_work() as uow:
                got = uow.datasets.images(ds.id)
                assert got.to_list() == expected.to_list()
                assert uow.datasets.get(ds.id).images.to_list() == expected.to_list()


class ImageQueryContract(_Base):
    def _stored(self, store: Store, images: list[dict[str, Any]]) -> int:
        project = self.project(store)
        ds = self.dataset(store, project.id, images)  # type: ignore[arg-type]
        assert ds.id is not None
        return ds.id

    def test_everything_on_one_page_by_default(self, store: Store) -> None:
        images = [
            {**image(f"{ZARR_DIR}/{i}", well=w), "types": {"3D": i % 2 == 0}}
            for i, w in enumerate(["B01", "A01", "A01"])
        ]
        ds_id = self._stored(store, images)
        with store.unit_of_work() as uow:
            page = uow.datasets.query_images(ds_id)
        assert page.items == images
        assert (page.total_count, page.page, page.page_size) == (3, 1, 3)
        assert page.attributes == {"well": ["A01", "B01"]}
        assert page.types == ["3D"]

    def test_filters_zarr_url_and_aggregates_of_the_whole_dataset(
        self, store: Store
    ) -> None:
        images = [
            {**image(f"{ZARR_DIR}/{i}", well=w, z=i), "types": {"3D": i != 1}}
            for i, w in enumerate(["A01", "B01", "A01", "C01"])
        ]
        ds_id = self._stored(store, images)
        with store.unit_of_work() as uow:
            q = uow.datasets.query_images
            page = q(
                ds_id, type_filters={"3D": True}, attribute_filters={"well": ["A01"]}
            )
            assert page.items == [images[0], images[2]] and page.total_count == 2
            assert page.attributes == aggregate_attributes(images)
            assert page.types == ["3D"]
            # filters read as validate_filters reads them ("true" is True)
            assert q(ds_id, type_filters={"3D": "true"}).total_count == 3
            assert q(ds_id, type_filters={"is_2D": False}).total_count == 4
            assert q(ds_id, zarr_url=f"{ZARR_DIR}/1").items == [images[1]]
            # the zarr_url is matched exactly, not normalised
            assert q(ds_id, zarr_url=f"{ZARR_DIR}/1/").items == []
            found = q(ds_id, zarr_url=f"{ZARR_DIR}/1", type_filters={"3D": True})
            assert found.items == [] and found.total_count == 0
            with pytest.raises(FilterError):
                q(ds_id, attribute_filters={"well": []})
            with pytest.raises(FilterError):
                q(ds_id, type_filters={"3D": "maybe"})

    def test_pagination_is_clamped(self, store: Store) -> None:
        images = [image(f"{ZARR_DIR}/{i:02d}") for i in range(5)]
        ds_id = self._stored(store, images)
        with store.unit_of_work() as uow:
            q = uow.datasets.query_images
            page = q(ds_id, page=2, page_size=2)
            assert page.items == images[2:4]
            assert (page.total_count, page.page, page.page_size) == (5, 2, 2)
            last = q(ds_id, page=9, page_size=2)
            assert last.items == images[4:] and last.page == 3
            wide = q(ds_id, page_size=6)
            assert wide.items == images and wide.page_size == 6
            empty = q(ds_id, page=4, page_size=3, type_filters={"nothing": True})
            assert empty.items == [] and (empty.page, empty.page_size) == (4, 3)
            none = q(ds_id, type_filters={"nothing": True})
            assert (none.total_count, none.page, none.page_size) == (0, 1, 0)
            for bad in ({"page": 0}, {"page": 2}, {"page_size": 0}, {"page_size": -1}):
                with pytest.raises(PaginationError):
                    q(ds_id, **bad)  # type: ignore[arg-type]

    @PROPERTY
    @given(
        initial=pool_images(max_size=8),
        types=type_filters,
        attributes=attribute_filters,
        page=st.integers(min_value=1, max_value=5),
        page_size=st.none() | st.integers(min_value=1, max_value=4),
    )
    def test_query_equals_filtering_the_image_list(
        self,
        store: Store,
        initial: list[dict[str, Any]],
        types: dict[str, bool],
        attributes: dict[str, list[Any]],
        page: int,
        page_size: int | None,
    ) -> None:
        if page_size is None:
            page = 1
        ds_id = self._stored(store, initial)
        matching = ImageList(initial).filter(types, attributes)
        window = clamped_page(len(matching), page, page_size)
        with store.unit_of_work() as uow:
            got = uow.datasets.query_images(
                ds_id,
                type_filters=types,
                attribute_filters=attributes,
                page=page,
                page_size=page_size,
            )
        assert got.items == matching[window.offset : window.offset + window.page_size]
        assert (got.total_count, got.page, got.page_size) == (
            len(matching),
            window.page,
            window.page_size,
        )
        assert got.attributes == aggregate_attributes(initial)
        assert got.types == aggregate_types(initial)

    def test_pool_is_inside_the_zarr_dir(self) -> None:
        assert all(url.startswith(ZARR_DIR + "/") for url in URL_POOL)


class TaskGroupContract(_Base):
    def test_tasks_get_ids_and_know_their_group(self, store: Store) -> None:
        group = self.group(store)
        assert group.id is not None
        ids = [t.id for t in group.task_list]
        assert None not in ids and len(set(ids)) == 2
        assert all(t.taskgroupv2_id == group.id for t in group.task_list)
        with store.unit_of_work() as uow:
            assert uow.task_groups.get(group.id) == group
            task = uow.task_groups.get_task(ids[1])  # type: ignore[arg-type]
            assert task == group.task_list[1]
            assert task.task_group is not None and task.task_group.id == group.id
            assert task.package == ("my-pkg", "1.0") and task.is_active
            uow.task_groups.update(group.model_copy(update={"active": False}))
            uow.commit()
        with store.unit_of_work() as uow:
            assert not uow.task_groups.get_task(ids[0]).is_active  # type: ignore[arg-type]

    def test_update_changes_adds_and_removes_tasks(self, store: Store) -> None:
        group = self.group(store)
        a, b = group.task_list
        changed_a = a.model_copy(update={"category": "Segmentation"})
        new = Task(name="c", type="non_parallel", command_non_parallel="python3 /c.py")
        group.task_list = [changed_a, new]
        self.commit(store, lambda uow: uow.task_groups.update(group))
        with store.unit_of_work() as uow:
            got = uow.task_groups.get(group.id)  # type: ignore[arg-type]
            assert [t.name for t in got.task_list] == ["a", "c"]
            assert got.task_list[0].id == a.id
            assert got.task_list[0].category == "Segmentation"
            assert got.task_list[1].id not in (None, a.id, b.id)
            with pytest.raises(NotFoundError) as exc:
                uow.task_groups.get_task(b.id)  # type: ignore[arg-type]
            assert_not_found(exc, "task", b.id)

    def test_list_filters(self, store: Store) -> None:
        g1 = self.group(store, pkg="alpha", version="1.0")
        g2 = self.group(store, pkg="alpha", version="2.0")
        g3 = self.group(store, pkg="beta", version="1.0")
        self.commit(
            store,
            lambda uow: uow.task_groups.update(g2.model_copy(update={"active": False})),
        )
        with store.unit_of_work() as uow:
            tg = uow.task_groups
            assert [g.id for g in tg.list()] == [g1.id, g2.id, g3.id]
            assert [g.id for g in tg.list(pkg_name="alpha")] == [g1.id, g2.id]
            assert [g.id for g in tg.list(version="1.0")] == [g1.id, g3.id]
            assert [g.id for g in tg.list(active=False)] == [g2.id]
            assert [g.id for g in tg.list(pkg_name="alpha", active=True)] == [g1.id]

    def test_missing_ids(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            for call, kind in (
                (lambda: uow.task_groups.get(55), "task group"),
                (lambda: uow.task_groups.delete(55), "task group"),
                (
                    lambda: uow.task_groups.update(
                        make_group().model_copy(update={"id": 55})
                    ),
                    "task group",
                ),
                (lambda: uow.task_groups.get_task(55), "task"),
            ):
                with pytest.raises(NotFoundError) as exc:
                    call()
                assert_not_found(exc, kind, 55)

    def test_activities(self, store: Store) -> None:
        group = self.group(store)
        with store.unit_of_work() as uow:
            act = uow.task_groups.add_activity(
                TaskGroupActivity(
                    taskgroupv2_id=group.id,
                    pkg_name="my-pkg",
                    version="1.0",
                    status=TaskGroupActivityStatus.PENDING,
                    action=TaskGroupActivityAction.COLLECT,
                )
            )
            other = uow.task_groups.add_activity(
                TaskGroupActivity(
                    pkg_name="other",
                    status=TaskGroupActivityStatus.PENDING,
                    action=TaskGroupActivityAction.COLLECT,
                )
            )
            uow.commit()
        assert act.id is not None and other.id is not None and act.id != other.id
        act.finish(ok=True, log="installed")
        self.commit(store, lambda uow: uow.task_groups.update_activity(act))
        with store.unit_of_work() as uow:
            assert uow.task_groups.activities(group.id) == [act]
            assert uow.task_groups.activities() == [act, other]
            with pytest.raises(NotFoundError) as exc:
                uow.task_groups.update_activity(act.model_copy(update={"id": 999}))
            assert_not_found(exc, "activity", 999)
            uow.task_groups.delete(group.id)  # type: ignore[arg-type]
            uow.commit()
        with store.unit_of_work() as uow:
            (kept, _) = uow.task_groups.activities()
            assert kept.id == act.id and kept.taskgroupv2_id is None

    def test_a_group_in_use_cannot_be_deleted(self, store: Store) -> None:
        project = self.project(store)
        group = self.group(store)
        wf = self.workflow(store, project.id, [group.task_list[0]])  # type: ignore[arg-type]
        with store.unit_of_work() as uow, pytest.raises(ConflictError):
            uow.task_groups.delete(group.id)  # type: ignore[arg-type]
        self.commit(store, lambda uow: uow.workflows.delete(wf.id))  # type: ignore[arg-type]
        self.commit(store, lambda uow: uow.task_groups.delete(group.id))  # type: ignore[arg-type]
        with store.unit_of_work() as uow:
            assert uow.task_groups.list() == []


class WorkflowContract(_Base):
    def test_add_assigns_ids_and_loads_tasks_back(self, store: Store) -> None:
        project = self.project(store)
        group = self.group(store)
        a, b = group.task_list
        wf = self.workflow(store, project.id, [a, b, a])  # type: ignore[arg-type]
        assert wf.id is not None and wf.project_id == project.id
        wft_ids = [wft.id for wft in wf.task_list]
        assert None not in wft_ids and len(set(wft_ids)) == 3
        assert [wft.order for wft in wf.task_list] == [0, 1, 2]
        assert [wft.task_id for wft in wf.task_list] == [a.id, b.id, a.id]
        assert {wft.workflow_id for wft in wf.task_list} == {wf.id}
        with store.unit_of_work() as uow:
            got = uow.workflows.get(wf.id)
            assert got == wf
            assert got.task_list[1].task == b
            linked = got.task_list[1].task.task_group
            assert linked is not None and linked.id == group.id
            assert got.task_list[1].args_parallel == {"x": 1}

    def test_tasks_are_loaded_from_their_group(self, store: Store) -> None:
        project = self.project(store)
        group = self.group(store)
        wf = self.workflow(store, project.id, [group.task_list[0]])  # type: ignore[arg-type]
        group.task_list[0].docs_info = "new docs"
        self.commit(store, lambda uow: uow.task_groups.update(group))
        with store.unit_of_work() as uow:
            assert uow.workflows.get(wf.id).task_list[0].task.docs_info == "new docs"  # type: ignore[arg-type]

    def test_update_reorders_inserts_and_removes(self, store: Store) -> None:
        project = self.project(store)
        group = self.group(store, names=("a", "b", "c"))
        a, b, c = group.task_list
        wf = self.workflow(store, project.id, [a, b])  # type: ignore[arg-type]
        first, second = (wft.id for wft in wf.task_list)
        wf.move_task(1, 0)
        wf.insert_task(1, c, validate_args=False)
        wf.remove_task(2)  # the old first
        wf.name = "renamed"
        wf.description = "about"
        with store.unit_of_work() as uow:
            stored = uow.workflows.update(wf)
            uow.commit()
        assert [wft.task_id for wft in stored.task_list] == [b.id, c.id]
        assert stored.task_list[0].id == second
        new_id = stored.task_list[1].id
        assert new_id not in (None, first, second)
        assert [wft.order for wft in stored.task_list] == [0, 1]
        with store.unit_of_work() as uow:
            got = uow.workflows.get(wf.id)  # type: ignore[arg-type]
            assert got == stored
            assert (got.name, got.description) == ("renamed", "about")

    def test_workflow_tasks_need_stored_tasks(self, store: Store) -> None:
        project = self.project(store)
        loose = make_group().task_list[0]
        wf = Workflow(name="wf", project_id=project.id)
        wf.append_task(loose, validate_args=False)
        with store.unit_of_work() as uow, pytest.raises(RepositoryError):
            uow.workflows.add(wf)
        ghost = loose.model_copy(update={"id": 31337})
        wf = Workflow(
            name="wf",
            project_id=project.id,
            task_list=[WorkflowTask(task=ghost)],
        )
        with store.unit_of_work() as uow, pytest.raises(NotFoundError) as exc:
            uow.workflows.add(wf)
        assert_not_found(exc, "task", 31337)

    def test_list_and_missing(self, store: Store) -> None:
        p1, p2 = self.project(store, "p1"), self.project(store, "p2")
        w1 = self.workflow(store, p1.id, [])  # type: ignore[arg-type]
        w2 = self.workflow(store, p2.id, [], name="w2")  # type: ignore[arg-type]
        with store.unit_of_work() as uow:
            assert [w.id for w in uow.workflows.list()] == [w1.id, w2.id]
            assert [w.id for w in uow.workflows.list(p2.id)] == [w2.id]
            for call in (
                lambda: uow.workflows.get(404),
                lambda: uow.workflows.delete(404),
                lambda: uow.workflows.update(
                    Workflow(id=404, name="x", project_id=p1.id)
                ),
            ):
                with pytest.raises(NotFoundError) as exc:
                    call()
                assert_not_found(exc, "workflow", 404)
            with pytest.raises(NotFoundError) as exc:
                uow.workflows.add(Workflow(name="x", project_id=8080))
            assert_not_found(exc, "project", 8080)


class JobContract(_Base):
    def _objects(self, store: Store) -> tuple[Project, Dataset, Workflow]:
        project = self.project(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        wf = self.workflow(store, project.id, [])  # type: ignore[arg-type]
        return project, ds, wf

    def test_add_get_update_list(self, store: Store) -> None:
        project, ds, wf = self._objects(store)
        job = make_job(project_id=project.id, dataset_id=ds.id, workflow_id=wf.id)
        stored = self.commit(store, lambda uow: uow.jobs.add(job))
        assert stored.id is not None
        with store.unit_of_work() as uow:
            assert uow.jobs.get(stored.id) == stored
            stored.finish("failed", log="JOB ERROR", executor_error_log="oops")
            uow.jobs.update(stored)
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.jobs.get(stored.id)
            assert got == stored and got.status == JobStatus.FAILED
            assert got.end_timestamp == stored.end_timestamp

    def test_list_filters(self, store: Store) -> None:
        p, ds, wf = self._objects(store)
        ds2 = self.dataset(store, p.id)  # type: ignore[arg-type]
        j1 = self.commit(
            store,
            lambda uow: uow.jobs.add(
                make_job(
                    project_id=p.id,
                    dataset_id=ds.id,
                    workflow_id=wf.id,
                    status=JobStatus.DONE,
                )
            ),
        )
        j2 = self.commit(
            store,
            lambda uow: uow.jobs.add(make_job(project_id=p.id, dataset_id=ds2.id)),
        )
        j3 = self.commit(store, lambda uow: uow.jobs.add(make_job()))
        with store.unit_of_work() as uow:
            ids = lambda **kw: [j.id for j in uow.jobs.list(**kw)]  # noqa: E731
            assert ids() == [j1.id, j2.id, j3.id]
            assert ids(project_id=p.id) == [j1.id, j2.id]
            assert ids(dataset_id=ds2.id) == [j2.id]
            assert ids(workflow_id=wf.id) == [j1.id]
            assert ids(status=JobStatus.SUBMITTED) == [j2.id, j3.id]
            assert ids(project_id=p.id, status=JobStatus.DONE) == [j1.id]

    def test_one_submitted_job_per_dataset(self, store: Store) -> None:
        p, ds, wf = self._objects(store)
        done = make_job(project_id=p.id, dataset_id=ds.id, status=JobStatus.DONE)
        first = self.commit(store, lambda uow: uow.jobs.add(done))
        running = self.commit(
            store, lambda uow: uow.jobs.add(make_job(project_id=p.id, dataset_id=ds.id))
        )
        with store.unit_of_work() as uow, pytest.raises(ConflictError) as exc:
            uow.jobs.add(make_job(project_id=p.id, dataset_id=ds.id))
        assert str(ds.id) in str(exc.value)
        with store.unit_of_work() as uow, pytest.raises(ConflictError):
            uow.jobs.update(first.model_copy(update={"status": JobStatus.SUBMITTED}))
        running.finish("done")
        self.commit(store, lambda uow: uow.jobs.update(running))
        again = self.commit(
            store, lambda uow: uow.jobs.add(make_job(project_id=p.id, dataset_id=ds.id))
        )
        assert again.id is not None and again.id > running.id  # type: ignore[operator]

    def test_racing_units_of_work_accept_one_job(self, store: Store) -> None:
        p, ds, _ = self._objects(store)
        barrier = threading.Barrier(4)
        outcomes: list[str] = []
        lock = threading.Lock()

        def submit() -> None:
            barrier.wait(30)
            try:
                with store.unit_of_work() as uow:
                    uow.jobs.add(make_job(project_id=p.id, dataset_id=ds.id))
                    uow.commit()
                result = "ok"
            except ConflictError:
                result = "conflict"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=submit) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(outcomes) == ["conflict"] * 3 + ["ok"]
        with store.unit_of_work() as uow:
            assert len(uow.jobs.list(dataset_id=ds.id, status=JobStatus.SUBMITTED)) == 1

    def test_missing_ids(self, store: Store) -> None:
        with store.unit_of_work() as uow:
            with pytest.raises(NotFoundError) as exc:
                uow.jobs.get(31)
            assert_not_found(exc, "job", 31)
            with pytest.raises(NotFoundError) as exc:
                uow.jobs.update(make_job().model_copy(update={"id": 32}))
            assert_not_found(exc, "job", 32)
            with pytest.raises(NotFoundError) as exc:
                uow.jobs.add(make_job(dataset_id=33))
            assert_not_found(exc, "dataset", 33)


class CascadeContract(_Base):
    def test_project_delete_takes_datasets_and_workflows_not_jobs(
        self, store: Store
    ) -> None:
        project = self.project(store)
        other = self.project(store, "other")
        group = self.group(store)
        ds = self.dataset(store, project.id, [image(f"{ZARR_DIR}/x")])  # type: ignore[arg-type]
        kept_ds = self.dataset(store, other.id)  # type: ignore[arg-type]
        wf = self.workflow(store, project.id, [group.task_list[0]])  # type: ignore[arg-type]
        job = self.commit(
            store,
            lambda uow: uow.jobs.add(
                make_job(
                    project_id=project.id,
                    dataset_id=ds.id,
                    workflow_id=wf.id,
                    status=JobStatus.DONE,
                )
            ),
        )
        recorder = store.recorder()
        run_id = recorder.run_started(
            dataset_id=ds.id,
            workflowtask_id=wf.task_list[0].id,
            job_id=job.id,
            task_id=group.task_list[0].id,
            workflowtask_dump={},
            task_group_dump={},
            num_available_images=1,
        )
        recorder.units_created(run_id, [NewUnit("/l/0", [f"{ZARR_DIR}/x"])])
        self.commit(store, lambda uow: uow.projects.delete(project.id))  # type: ignore[arg-type]
        assert recorder.runs_of(ds.id, wf.task_list[0].id) == []
        assert recorder.units_of(run_id) == []
        with store.unit_of_work() as uow:
            assert [d.id for d in uow.datasets.list()] == [kept_ds.id]
            assert uow.workflows.list() == []
            with pytest.raises(NotFoundError):
                uow.datasets.images(ds.id)  # type: ignore[arg-type]
            orphan = uow.jobs.get(job.id)  # type: ignore[arg-type]
            assert (orphan.project_id, orphan.dataset_id, orphan.workflow_id) == (
                None,
                None,
                None,
            )
            assert orphan.project_dump == job.project_dump
            assert uow.task_groups.get(group.id) == group  # type: ignore[arg-type]

    def test_dataset_and_workflow_deletes_unlink_jobs(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        wf = self.workflow(store, project.id, [])  # type: ignore[arg-type]
        job = self.commit(
            store,
            lambda uow: uow.jobs.add(
                make_job(project_id=project.id, dataset_id=ds.id, workflow_id=wf.id)
            ),
        )
        self.commit(store, lambda uow: uow.datasets.delete(ds.id))  # type: ignore[arg-type]
        with store.unit_of_work() as uow:
            got = uow.jobs.get(job.id)  # type: ignore[arg-type]
            assert (got.project_id, got.dataset_id, got.workflow_id) == (
                project.id,
                None,
                wf.id,
            )
            uow.workflows.delete(wf.id)  # type: ignore[arg-type]
            uow.commit()
        with store.unit_of_work() as uow:
            got = uow.jobs.get(job.id)  # type: ignore[arg-type]
            assert (got.project_id, got.dataset_id, got.workflow_id) == (
                project.id,
                None,
                None,
            )
            assert got.status == JobStatus.SUBMITTED


class StoreRecorderContract(_Base):
    def _history(
        self, recorder: StoreRecorder, dataset_id: int, wft_id: int, job_id: int
    ) -> int:
        run_id = recorder.run_started(
            dataset_id=dataset_id,
            workflowtask_id=wft_id,
            job_id=job_id,
            task_id=1,
            workflowtask_dump={"id": wft_id},
            task_group_dump={"pkg_name": "my-pkg"},
            num_available_images=1,
        )
        (unit,) = recorder.units_created(run_id, [NewUnit("/l/0", [f"{ZARR_DIR}/x"])])
        recorder.units_finished([unit], HistoryStatus.DONE)
        recorder.image_cache_set(
            dataset_id=dataset_id,
            workflowtask_id=wft_id,
            latest_unit={f"{ZARR_DIR}/x": unit},
        )
        return run_id

    def _applied(
        self,
        recorder: StoreRecorder,
        run_id: int,
        dataset_id: int,
        wft_id: int,
        before: ImageList,
        changes: ImageChanges,
    ) -> ImageList:
        after = applied(before, changes)
        recorder.task_applied(
            TaskApplied(
                job_id=1,
                dataset_id=dataset_id,
                workflowtask_id=wft_id,
                run_id=run_id,
                changes=changes,
                images=after,
                num_tasks=1,
                num_new_images=len(changes.created),
            )
        )
        return after

    def test_task_applied_writes_the_stored_dataset(self, store: Store) -> None:
        project = self.project(store)
        x, y = f"{ZARR_DIR}/x", f"{ZARR_DIR}/y"
        ds = self.dataset(store, project.id, [image(x, n=0)])  # type: ignore[arg-type]
        assert ds.id is not None
        recorder = store.recorder()
        run_id = self._history(recorder, ds.id, 7, 1)
        after = self._applied(
            recorder,
            run_id,
            ds.id,
            7,
            ds.images,
            ImageChanges(created=[image(y, n=1)], updated=[image(x, n=2)]),
        )
        with store.unit_of_work() as uow:
            assert uow.datasets.images(ds.id).to_list() == after.to_list()
        assert recorder.images_of(ds.id) == after.to_list()
        after = self._applied(
            recorder, run_id, ds.id, 7, after, ImageChanges(removed=[x])
        )
        with store.unit_of_work() as uow:
            assert uow.datasets.images(ds.id).to_list() == [image(y, n=1)]
        assert recorder.image_status(ds.id, 7) == {}

    def test_unknown_dataset_keeps_history_without_images(self, store: Store) -> None:
        recorder = store.recorder()
        run_id = self._history(recorder, 4711, 7, 1)
        self._applied(
            recorder,
            run_id,
            4711,
            7,
            ImageList(),
            ImageChanges(created=[image(f"{ZARR_DIR}/x")]),
        )
        assert [r.id for r in recorder.runs_of(4711, 7)] == [run_id]
        with store.unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.datasets.images(4711)

    def test_job_events_update_the_stored_job(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        job = self.commit(
            store,
            lambda uow: uow.jobs.add(make_job(project_id=project.id, dataset_id=ds.id)),
        )
        recorder = store.recorder()
        recorder.job_started(job_id=job.id, working_dir="/jobs/1", dataset_id=ds.id)
        recorder.executor_error_log(job_id=job.id, text="bad\x00news")
        end = datetime.now(UTC)
        recorder.job_ended(
            job_id=job.id, status=JobStatus.FAILED, log="JOB ERROR", end_timestamp=end
        )
        with store.unit_of_work() as uow:
            got = uow.jobs.get(job.id)  # type: ignore[arg-type]
        assert got.status == JobStatus.FAILED and got.log == "JOB ERROR"
        assert got.end_timestamp == end and got.executor_error_log == "badnews"
        assert recorder.job(job.id).status == JobStatus.FAILED

    def test_dataset_delete_takes_its_history(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        keep = self.dataset(store, project.id)  # type: ignore[arg-type]
        assert ds.id is not None and keep.id is not None
        recorder = store.recorder()
        run_id = self._history(recorder, ds.id, 7, 1)
        kept_run = self._history(recorder, keep.id, 7, 2)
        self.commit(store, lambda uow: uow.datasets.delete(ds.id))  # type: ignore[arg-type]
        assert recorder.runs_of(ds.id, 7) == []
        assert recorder.units_of(run_id) == []
        assert recorder.image_status(ds.id, 7) == {}
        assert [r.id for r in recorder.runs_of(keep.id, 7)] == [kept_run]
        assert recorder.image_status(keep.id, 7) == {f"{ZARR_DIR}/x": "done"}

    def test_workflow_delete_drops_image_status_keeps_units(self, store: Store) -> None:
        project = self.project(store)
        group = self.group(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        wf = self.workflow(store, project.id, [group.task_list[0]])  # type: ignore[arg-type]
        wft_id = wf.task_list[0].id
        assert ds.id is not None and wft_id is not None
        recorder = store.recorder()
        run_id = self._history(recorder, ds.id, wft_id, 1)
        assert recorder.image_status(ds.id, wft_id) == {f"{ZARR_DIR}/x": "done"}
        self.commit(store, lambda uow: uow.workflows.delete(wf.id))  # type: ignore[arg-type]
        assert recorder.image_status(ds.id, wft_id) == {}
        assert [u.status for u in recorder.units_of(run_id)] == [HistoryStatus.DONE]

    def test_rolled_back_delete_keeps_history(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        assert ds.id is not None
        recorder = store.recorder()
        run_id = self._history(recorder, ds.id, 7, 1)
        with store.unit_of_work() as uow:
            uow.datasets.delete(ds.id)
        assert [r.id for r in recorder.runs_of(ds.id, 7)] == [run_id]

    def test_forget_image_status_on_commit_only(self, store: Store) -> None:
        project = self.project(store)
        ds = self.dataset(store, project.id)  # type: ignore[arg-type]
        assert ds.id is not None
        recorder = store.recorder()
        self._history(recorder, ds.id, 7, 1)
        self._history(recorder, ds.id, 8, 2)
        url = f"{ZARR_DIR}/x"
        with store.unit_of_work() as uow:
            uow.datasets.forget_image_status(ds.id, [url])
        assert recorder.image_status(ds.id, 7) == {url: "done"}  # rolled back
        self.commit(store, lambda uow: uow.datasets.forget_image_status(ds.id, [url]))  # type: ignore[arg-type]
        assert recorder.image_status(ds.id, 7) == {}
        assert recorder.image_status(ds.id, 8) == {}
        with store.unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.datasets.forget_image_status(ds.id + 1000, [url])


class StoreContract(
    StoreShapeContract,
    UnitOfWorkContract,
    ProjectContract,
    DatasetContract,
    ImageQueryContract,
    TaskGroupContract,
    WorkflowContract,
    JobContract,
    CascadeContract,
    StoreRecorderContract,
):
    """Subclass with a `store` fixture (a fresh, empty store per test)."""
