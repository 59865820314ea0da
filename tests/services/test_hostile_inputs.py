"""Hostile input to the services on every store, PostgreSQL included: NUL bytes
in names, arguments, attributes and filters, ids of the wrong type or out of
range, huge pagination values. Each is the library's exception naming the field
and value, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fractal_core import services
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import PaginationError
from fractal_core.repository.base import Store
from fractal_core.services import InvalidValueError
from tests.services.support import ZARR_DIR
from tests.services.support import add_group
from tests.services.support import make_task

HUGE = 2**70


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend, PostgreSQL too (NUL bytes failed only there).

    PostgreSQL is tests/repository's session server, a new database per test.
    """
    from fractal_core.repository.memory import MemoryStore
    from fractal_core.repository.sql import SQLStore

    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLStore(tmp_path / "hostile.db")
    else:
        made = SQLStore(request.getfixturevalue("postgres_url"))
    try:
        yield made
    finally:
        made.close()


def _snapshot(store: Store) -> dict[str, Any]:
    """Everything the services can list, to show nothing was written."""
    projects = services.list_projects(store)
    return {
        "projects": [p.model_dump() for p in projects],
        "datasets": [d.model_dump() for d in services.list_datasets(store)],
        "workflows": [w.model_dump() for w in services.list_workflows(store)],
        "images": [
            services.query_images(store, d.project_id, d.id).items  # type: ignore[arg-type]
            for d in services.list_datasets(store)
        ],
    }


def _setup(store: Store) -> dict[str, int]:
    project = services.create_project(store, "p")
    dataset = services.create_dataset(store, project.id, "d", zarr_dir=ZARR_DIR)  # type: ignore[arg-type]
    workflow = services.create_workflow(store, project.id, "w")  # type: ignore[arg-type]
    group = add_group(store, [make_task("t", "non_parallel")])
    services.add_image(
        store,
        project.id,
        dataset.id,
        {"zarr_url": f"{ZARR_DIR}/a"},  # type: ignore[arg-type]
    )
    ids = {
        "p": project.id,
        "d": dataset.id,
        "w": workflow.id,
        "t": group.task_list[0].id,
    }
    return ids  # type: ignore[return-value]


NUL_CALLS: list[tuple[str, str, Callable[[Store, dict[str, int]], Any]]] = [
    ("workflow name", "name", lambda s, i: services.create_workflow(s, i["p"], "w\0x")),
    (
        "workflow description",
        "description",
        lambda s, i: services.update_workflow(s, i["p"], i["w"], description="a\0"),
    ),
    (
        "workflow task argument",
        "args_non_parallel['x']",
        lambda s, i: services.create_workflow_task(
            s, i["p"], i["w"], i["t"], args_non_parallel={"x": "a\0"}
        ),
    ),
    (
        "image attribute value",
        "image['attributes']['x']",
        lambda s, i: services.add_image(
            s, i["p"], i["d"], {"zarr_url": f"{ZARR_DIR}/b", "attributes": {"x": "\0"}}
        ),
    ),
    (
        "image attribute key",
        "image['attributes'] key",
        lambda s, i: services.add_image(
            s, i["p"], i["d"], {"zarr_url": f"{ZARR_DIR}/b", "attributes": {"k\0": 1}}
        ),
    ),
    (
        "patched type name",
        "types key",
        lambda s, i: services.patch_image(
            s, i["p"], i["d"], f"{ZARR_DIR}/a", types={"t\0": True}
        ),
    ),
    (
        "dataset attribute filter",
        "attribute_filters['x'][0]",
        lambda s, i: services.create_dataset(
            s, i["p"], "d2", zarr_dir=ZARR_DIR, attribute_filters={"x": ["\0"]}
        ),
    ),
    (
        "query attribute filter",
        "attribute_filters['x'][0]",
        lambda s, i: services.query_images(
            s, i["p"], i["d"], attribute_filters={"x": ["a\0"]}
        ),
    ),
    (
        "imported workflow",
        "data['name']",
        lambda s, i: services.import_workflow(
            s, i["p"], {"name": "i\0", "task_list": []}
        ),
    ),
]


@pytest.mark.parametrize(
    ("what", "field", "call"), NUL_CALLS, ids=[c[0] for c in NUL_CALLS]
)
def test_a_nul_byte_is_refused_naming_the_field_and_nothing_is_written(
    any_store: Store,
    what: str,
    field: str,
    call: Callable[[Store, dict[str, int]], Any],
) -> None:
    ids = _setup(any_store)
    before = _snapshot(any_store)
    with pytest.raises(InvalidValueError, match="NUL byte") as caught:
        call(any_store, ids)
    assert caught.value.field == field
    assert "\\x00" in str(caught.value)
    assert _snapshot(any_store) == before


@pytest.mark.parametrize("bad_id", [HUGE, -HUGE, "1", 1.0, None, True])
def test_ids_of_the_wrong_type_or_out_of_range_are_not_found(
    any_store: Store, bad_id: Any
) -> None:
    ids = _setup(any_store)
    with pytest.raises(NotFoundError):
        services.get_project(any_store, bad_id)
    with pytest.raises(NotFoundError):
        services.get_dataset(any_store, ids["p"], bad_id)
    with pytest.raises(NotFoundError):
        services.get_workflow(any_store, ids["p"], bad_id)
    with pytest.raises(NotFoundError):
        services.get_job(any_store, ids["p"], bad_id)


@pytest.mark.parametrize(
    ("page", "page_size", "named"),
    [(2**63, 1, "page="), (1, 2**63, "page_size="), (HUGE, HUGE, "page=")],
)
def test_pagination_past_the_64_bit_range_is_a_pagination_error(
    any_store: Store, page: int, page_size: int, named: str
) -> None:
    ids = _setup(any_store)
    with pytest.raises(PaginationError, match=named):
        services.query_images(
            any_store, ids["p"], ids["d"], page=page, page_size=page_size
        )


def test_the_largest_pagination_values_give_an_empty_or_last_page(
    any_store: Store,
) -> None:
    ids = _setup(any_store)
    big = 2**63 - 1
    page = services.query_images(any_store, ids["p"], ids["d"], page=big, page_size=big)
    assert [image["zarr_url"] for image in page.items] == [f"{ZARR_DIR}/a"]
    assert page.page == 1


SHAPE_CALLS: list[tuple[str, str, Callable[[Store, dict[str, int]], Any]]] = [
    (
        "dataset filters as a list",
        "attribute_filters",
        lambda s, i: services.create_dataset(
            s, i["p"], "d2", zarr_dir=ZARR_DIR, attribute_filters=[("x", [1])]
        ),
    ),
    (
        "image as a string",
        "image",
        lambda s, i: services.add_image(s, i["p"], i["d"], "/a"),
    ),
    (
        "attributes as a list",
        "attributes",
        lambda s, i: services.patch_image(
            s, i["p"], i["d"], f"{ZARR_DIR}/a", attributes=["x"]
        ),
    ),
    (
        "job request as a string",
        "request",
        lambda s, i: services.submit_job(
            s,
            i["p"],
            i["w"],
            i["d"],
            "go",
            executor=None,
            jobs_dir="/nonexistent",  # type: ignore[arg-type]
        ),
    ),
    (
        "workflow task update as a list",
        "update",
        lambda s, i: services.update_workflow_task(s, i["p"], i["w"], 1, [1, 2]),
    ),
]


@pytest.mark.parametrize(
    ("what", "field", "call"), SHAPE_CALLS, ids=[c[0] for c in SHAPE_CALLS]
)
def test_a_mapping_of_the_wrong_type_is_refused_naming_the_field(
    any_store: Store,
    what: str,
    field: str,
    call: Callable[[Store, dict[str, int]], Any],
) -> None:
    ids = _setup(any_store)
    before = _snapshot(any_store)
    with pytest.raises(InvalidValueError, match="must be a mapping") as caught:
        call(any_store, ids)
    assert caught.value.field == field
    assert _snapshot(any_store) == before
