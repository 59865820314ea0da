"""`history_images` against an oracle on all three backends (hypothesis).

One dataset of 24 images with mixed attributes (ints, strings, a key holding
`"` that SQLite's JSON paths cannot name, so that store finishes in Python)
and recorded statuses; random type filters, attribute filters (the status key
included) and pages. Every backend must give the oracle's page: the
reference's order of steps, zarr_url order by code point (`"B" < "a"`, which
a locale collation on PostgreSQL would get wrong) and unclamped pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from fractal_core import services as sv
from fractal_core.domain.history import HistoryUnitStatus
from fractal_core.engine.recorder import NewUnit
from fractal_core.images import IMAGE_STATUS_KEY
from fractal_core.repository.base import Store

from .history_support import BACKENDS
from .history_support import open_store
from .support import ZARR_DIR
from .support import add_group
from .support import make_task

QUOTED = 'k"q'
NAMES = ["Bee", "ant", "émile", "Zed"]
STATUS_OF = {0: "done", 1: "failed", 2: "submitted"}  # i % 4 == 3: unset


def _images() -> list[dict[str, Any]]:
    images = []
    for i in range(24):
        name = NAMES[i % 4]
        images.append(
            {
                "zarr_url": f"{ZARR_DIR}/{name}{i:02d}",
                "origin": None,
                "attributes": {"n": i % 5, "name": name, QUOTED: f"v{i % 3}"},
                "types": {"3D": i % 2 == 0} if i % 3 else {"3D": True, "x": True},
            }
        )
    return images


IMAGES = _images()
STATUS = {
    image["zarr_url"]: STATUS_OF[i % 4] for i, image in enumerate(IMAGES) if i % 4 < 3
}


def _record(store: Store, dataset_id: int, wft_id: int) -> None:
    """Two runs: the first marks everything failed, the second sets STATUS."""
    recorder = store.recorder()
    for statuses in ({url: "failed" for url in STATUS}, STATUS):
        run = recorder.run_started(
            dataset_id=dataset_id,
            workflowtask_id=wft_id,
            job_id=None,
            task_id=None,
            workflowtask_dump={},
            task_group_dump={},
            num_available_images=len(statuses),
        )
        latest = {}
        for url, final in statuses.items():
            (unit,) = recorder.units_created(run, [NewUnit("/no/log", [url])])
            recorder.units_finished([unit], HistoryUnitStatus(final))
            latest[url] = unit
        recorder.image_cache_set(
            dataset_id=dataset_id, workflowtask_id=wft_id, latest_unit=latest
        )


def _fill(store: Store) -> tuple[int, int, int]:
    project = sv.create_project(store, "p")
    assert project.id is not None
    ds = sv.create_dataset(store, project.id, "ds", zarr_dir=ZARR_DIR)
    wf = sv.create_workflow(store, project.id, "wf")
    assert ds.id is not None and wf.id is not None
    with store.unit_of_work() as uow:
        uow.datasets.apply_image_changes(ds.id, _changes())
        uow.commit()
    group = add_group(store, [make_task("t", "parallel")])
    task_id = group.task_list[0].id
    assert task_id is not None
    wft = sv.create_workflow_task(store, project.id, wf.id, task_id)
    assert wft.id is not None
    _record(store, ds.id, wft.id)
    return project.id, ds.id, wft.id


def _changes() -> Any:
    from fractal_core.engine.recorder import ImageChanges

    return ImageChanges(created=[dict(image) for image in IMAGES])


@pytest.fixture(scope="module")
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Store, int, int, int]]]:
    folder = tmp_path_factory.mktemp("history-images")
    with ExitStack() as stack:
        opened: dict[str, tuple[Store, int, int, int]] = {}
        for backend in BACKENDS:
            (folder / backend).mkdir()
            store = stack.enter_context(open_store(backend, folder / backend, request))
            opened[backend] = (store, *_fill(store))
        yield opened


def _oracle(
    type_filters: dict[str, bool],
    attribute_filters: dict[str, list[Any]],
    page: int,
    page_size: int | None,
) -> tuple[list[tuple[str, str]], int, int]:
    """(url, status) of the page, total count, page size: the rules by hand."""
    chosen = []
    for image in IMAGES:
        if any(image["types"].get(k, False) != v for k, v in type_filters.items()):
            continue
        attributes = {
            **image["attributes"],
            IMAGE_STATUS_KEY: STATUS.get(image["zarr_url"], "unset"),
        }
        if all(attributes.get(k) in v for k, v in attribute_filters.items()):
            chosen.append((image["zarr_url"], attributes[IMAGE_STATUS_KEY]))
    chosen.sort()
    size = page_size or len(chosen)
    return chosen[(page - 1) * size : page * size], len(chosen), size


ATTRIBUTE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "n": st.integers(0, 5),
    "name": st.sampled_from(NAMES),
    QUOTED: st.sampled_from(["v0", "v1", "v2", "v9"]),
    IMAGE_STATUS_KEY: st.sampled_from(["done", "failed", "submitted", "unset"]),
}
queries = st.fixed_dictionaries(
    {
        "type_filters": st.dictionaries(
            st.sampled_from(["3D", "x", "y"]), st.booleans(), max_size=2
        ),
        "attribute_filters": st.dictionaries(
            st.sampled_from(sorted(ATTRIBUTE_VALUES)), st.just(None), max_size=2
        ).flatmap(
            lambda keys: st.fixed_dictionaries(
                {
                    key: st.lists(ATTRIBUTE_VALUES[key], min_size=1, max_size=3)
                    for key in keys
                }
            )
        ),
        "page_size": st.none() | st.integers(1, 9),
    }
).flatmap(
    lambda q: st.fixed_dictionaries(
        {
            **{k: st.just(v) for k, v in q.items()},
            "page": st.just(1) if q["page_size"] is None else st.integers(1, 5),
        }
    )
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(query=queries)
def test_history_images_match_the_oracle(
    stores: dict[str, tuple[Store, int, int, int]], query: dict[str, Any]
) -> None:
    expected_items, expected_total, expected_size = _oracle(**query)
    for backend, (store, project_id, dataset_id, wft_id) in stores.items():
        page = sv.history_images(store, project_id, dataset_id, wft_id, **query)
        got = [(i["zarr_url"], i["attributes"][IMAGE_STATUS_KEY]) for i in page.items]
        assert got == expected_items, backend
        assert (page.total_count, page.page_size) == (expected_total, expected_size)
        assert page.page == query["page"]
        assert page.types == ["3D", "x"]
        assert page.attributes["name"] == sorted(NAMES)
        assert page.attributes[IMAGE_STATUS_KEY] == [
            "done",
            "submitted",
            "failed",
            "unset",
        ]


def test_status_counts_and_latest_run(
    stores: dict[str, tuple[Store, int, int, int]],
) -> None:
    """Counters from the image cache (the second run's statuses) and the
    latest of two runs, the same on every backend."""
    for backend, (store, project_id, dataset_id, wft_id) in stores.items():
        with store.unit_of_work() as uow:
            workflow_id = uow.workflows.list(project_id)[0].id
        assert workflow_id is not None
        status = sv.workflow_tasks_status(store, project_id, dataset_id, workflow_id)
        assert status == {
            wft_id: {
                "status": "submitted",  # the recorded runs were never ended
                "num_available_images": 18,
                "num_submitted_images": 6,
                "num_done_images": 6,
                "num_failed_images": 6,
            }
        }, backend
        runs = sv.history_runs(store, project_id, dataset_id, wft_id)
        assert [(r.num_failed_units, r.num_done_units) for r in runs] == [
            (18, 0),
            (6, 6),
        ], backend
        assert not any(r.task_found for r in runs)  # task_id None
