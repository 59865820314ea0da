"""The SQL store passes the store contract on SQLite and PostgreSQL, plus what
only a database shows: schema versions, files shared by processes, rows per
image, filters run in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy import event

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.project import Project
from fractal_core.engine.recorder import ImageChanges
from fractal_core.images.image_list import ImageList
from fractal_core.repository.base import ConflictError
from fractal_core.repository.base import RepositoryError
from fractal_core.repository.base import SchemaVersionError
from fractal_core.repository.sql import SCHEMA_VERSION
from fractal_core.repository.sql import SQLStore
from fractal_core.repository.sql.keys import decode_key
from fractal_core.repository.sql.keys import encode_key

from .contract import StoreContract


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, sqlite_url: str) -> Iterator[SQLStore]:
        store = SQLStore(sqlite_url)
        yield store
        store.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[SQLStore]:
        store = SQLStore(postgres_url)
        yield store
        store.close()


# --- what only a database shows --------------------------------------------------

ZARR = "/data/zarr"


def _img(url: str, types: dict[str, bool] | None = None, **attributes: Any) -> dict:
    return {
        "zarr_url": f"{ZARR}/{url}",
        "origin": None,
        "attributes": attributes,
        "types": types or {},
    }


def _dataset(store: SQLStore, images: list[dict[str, Any]]) -> int:
    with store.unit_of_work() as uow:
        project = uow.projects.add(Project(name="p"))
        ds = uow.datasets.add(
            Dataset(
                name="ds",
                project_id=project.id,
                zarr_dir=ZARR,
                images=ImageList(images),
            )
        )
        uow.commit()
    assert ds.id is not None
    return ds.id


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest) -> SQLStore:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


class _Statements:
    """Every SQL statement the engine sends (with its parameter sets)."""

    def __init__(self, engine: Any) -> None:
        self.seen: list[tuple[str, int]] = []
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(
        self, _c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        self.seen.append((sql, len(params) if many else 1))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)


def test_a_plain_path_opens_a_sqlite_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub dir" / "store.db"
    path.parent.mkdir()
    store = SQLStore(path)
    assert store.dialect == "sqlite" and path.is_file()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    store.close()
    assert SQLStore(str(path)).schema_version == SCHEMA_VERSION


def test_other_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="mysql"):
        SQLStore("mysql://user@host/db")
    with pytest.raises(RepositoryError, match="file path"):
        SQLStore("sqlite://")


def test_a_database_of_another_version_is_refused(any_store: SQLStore) -> None:
    url = any_store.url.render_as_string(hide_password=False)
    with any_store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE fractal_schema_version SET version = 999")
    any_store.close()
    with pytest.raises(SchemaVersionError) as exc:
        SQLStore(url)
    message = str(exc.value)
    assert "999" in message and f"version {SCHEMA_VERSION}" in message
    assert "docs/repository.md" in message


def test_a_database_of_another_application_is_refused(sqlite_url: str) -> None:
    engine = create_engine(f"sqlite:///{sqlite_url}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="another application"):
        SQLStore(sqlite_url)


def test_image_changes_write_rows_only_for_changed_images(any_store: SQLStore) -> None:
    images = [_img(f"i{n}", well=f"A{n:02d}") for n in range(2000)]
    ds_id = _dataset(any_store, images)
    changes = ImageChanges(
        created=[_img("new", well="Z")],
        updated=[_img("i5", well="B")],
        removed=[f"{ZARR}/i7"],
    )
    spy = _Statements(any_store.engine)
    try:
        with any_store.unit_of_work() as uow:
            uow.datasets.apply_image_changes(ds_id, changes)
            uow.commit()
    finally:
        spy.close()
    writes = [
        (sql, n)
        for sql, n in spy.seen
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes and sum(n for _, n in writes) <= 6, writes
    reference = ImageList(images)
    reference.remove(f"{ZARR}/i7")
    reference.set(_img("i5", well="B"))
    reference.add(_img("new", well="Z"))
    with any_store.unit_of_work() as uow:
        assert uow.datasets.images(ds_id).to_list() == reference.to_list()


QUERY_IMAGES = [
    _img("a", {"is_3D": True}, well="A01", n=1, flag=True),
    _img("b", {"is_3D": False}, well="A02", n=1.0, flag=False),
    _img("c", {}, well="A01", n=2, flag=1),
    _img("d", {"is_3D": True, 'q"k': True}, well="1", n=True, **{'we"ll': "x"}),
]
FILTERS: list[tuple[dict[str, bool], dict[str, list[Any]]]] = [
    ({"is_3D": True}, {}),
    ({"is_3D": False}, {}),
    ({}, {"well": ["A01"]}),
    ({"is_3D": True}, {"well": ["A01", "1"]}),
    ({}, {"n": [1]}),
    ({}, {"n": [True]}),
    ({}, {"n": [2.0]}),
    ({}, {"flag": [1]}),
    ({}, {"flag": [False]}),
    ({}, {"well": [1]}),
    ({'q"k': True}, {}),
    ({}, {'we"ll': ["x"]}),
    ({"missing": False}, {"missing": ["x"]}),
]


@pytest.mark.parametrize(("type_filters", "attribute_filters"), FILTERS)
def test_filters_in_sql_equal_the_image_list(
    any_store: SQLStore,
    type_filters: dict[str, bool],
    attribute_filters: dict[str, list[Any]],
) -> None:
    ds_id = _dataset(any_store, QUERY_IMAGES)
    expected = ImageList(QUERY_IMAGES).filter(type_filters, attribute_filters)
    with any_store.unit_of_work() as uow:
        page = uow.datasets.query_images(
            ds_id, type_filters=type_filters, attribute_filters=attribute_filters
        )
    assert page.items == expected
    assert page.total_count == len(expected)


def test_common_filters_run_in_the_database(any_store: SQLStore) -> None:
    images = [_img(f"i{n}", {"is_3D": n % 2 == 0}, well=f"A{n % 5}") for n in range(50)]
    ds_id = _dataset(any_store, images)
    spy = _Statements(any_store.engine)
    try:
        with any_store.unit_of_work() as uow:
            page = uow.datasets.query_images(
                ds_id,
                type_filters={"is_3D": True},
                attribute_filters={"well": ["A2"]},
                page=2,
                page_size=2,
            )
    finally:
        spy.close()
    expected = ImageList(images).filter({"is_3D": True}, {"well": ["A2"]})
    assert page.total_count == len(expected) == 5
    assert page.items == expected[2:4] and page.page == 2
    selects = [sql for sql, _ in spy.seen if "LIMIT" in sql.upper()]
    assert selects, spy.seen
    text = selects[-1]
    operator = "json_extract" if any_store.dialect == "sqlite" else "->"
    assert operator in text


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.text(),
    )
)
def test_history_keys_round_trip(value: int | str | None) -> None:
    encoded = encode_key(value)
    decoded = decode_key(encoded)
    assert decoded == value and type(decoded) is type(value)
    if isinstance(value, int):
        assert encoded != encode_key(str(value))


def test_created_images_repeating_a_url_are_refused(any_store: SQLStore) -> None:
    ds_id = _dataset(any_store, [_img("a")])
    twice = ImageChanges(created=[_img("b"), _img("c"), _img("b", n=1)])
    with any_store.unit_of_work() as uow, pytest.raises(ConflictError, match="repeat"):
        uow.datasets.apply_image_changes(ds_id, twice)
    with any_store.unit_of_work() as uow:
        assert uow.datasets.images(ds_id).zarr_urls() == [f"{ZARR}/a"]
