"""Image lists stored one row per image: bulk changes, ordered reads, queries.

The same code serves the images of stored datasets (`images`, owned by a
`datasets` row) and the image lists the engine reports for datasets this
store does not hold (`history_images`, owned by a `history_image_lists` row):
an `ImageTable` names the table, its owner column and the owner's position
counter. Positions only grow: created images get the next positions, updated
images keep theirs, removed images leave gaps; order is by position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column
from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import delete
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from ...engine.recorder import ImageChanges
from ...images.image_list import ImageList
from ..base import ConflictError
from ..base import NotFoundError
from .models import DatasetRow
from .models import ImageRow
from .models import LooseImageListRow
from .models import LooseImageRow

CHUNK = 5000
"""Rows per statement for IN lists (SQLite allows 32766 parameters)."""

PG_BATCH = 50_000
"""Rows per PostgreSQL statement sent as one JSON document."""

UNIQUE_VIOLATION = "23505"
"""PostgreSQL's SQLSTATE for a unique-constraint violation."""


@dataclass(frozen=True)
class ImageTable:
    """Where one kind of image list lives (see the module docstring)."""

    kind: str
    table: Table
    owner_column: str
    counter_table: Table
    counter_key: str

    def owner(self) -> Column[Any]:
        return self.table.c[self.owner_column]


DATASET_IMAGES = ImageTable(
    "Dataset",
    ImageRow.__table__,  # type: ignore[arg-type]
    "dataset_id",
    DatasetRow.__table__,  # type: ignore[arg-type]
    "id",
)
LOOSE_IMAGES = ImageTable(
    "Recorded dataset",
    LooseImageRow.__table__,  # type: ignore[arg-type]
    "dataset_key",
    LooseImageListRow.__table__,  # type: ignore[arg-type]
    "dataset_key",
)


def row_to_image(row: Any) -> dict[str, Any]:
    return {
        "zarr_url": row.zarr_url,
        "origin": row.origin,
        "attributes": row.attributes,
        "types": row.types,
    }


def read_images(conn: Connection, where: ImageTable, owner: Any) -> ImageList:
    """The whole list, in order (trusted: it was validated before storing)."""
    t = where.table
    rows = conn.execute(
        select(t.c.zarr_url, t.c.origin, t.c.attributes, t.c.types)
        .where(where.owner() == owner)
        .order_by(t.c.position)
    )
    return ImageList.trusted(row_to_image(row) for row in rows)


def _take_positions(conn: Connection, where: ImageTable, owner: Any, count: int) -> int:
    """Reserve `count` positions; return the first. Locks the owner row."""
    ct = where.counter_table
    key = ct.c[where.counter_key]
    result = conn.execute(
        update(ct)
        .where(key == owner)
        .values(next_position=ct.c.next_position + count)
        .returning(ct.c.next_position)
    ).first()
    if result is None:
        raise NotFoundError(f"{where.kind} {owner!r} not found.")
    return int(result[0]) - count


def insert_images(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    images: Sequence[Mapping[str, Any]],
) -> None:
    """Append images after the last position (one multi-row INSERT).

    A zarr_url already in the list raises `ConflictError` naming it.
    """
    if not images:
        return
    present = existing_urls(conn, where, owner, [image["zarr_url"] for image in images])
    if present:
        raise ConflictError(
            f"{where.kind} {owner!r} already has an image with zarr_url "
            f"{present[0]!r} ({len(present)} of the created images present)."
        )
    first = _take_positions(conn, where, owner, len(images))
    if conn.dialect.name == "postgresql":
        _insert_images_pg(conn, where, owner, images, first)
        return
    rows = [
        {
            where.owner_column: owner,
            "position": first + offset,
            "zarr_url": image["zarr_url"],
            "origin": image.get("origin"),
            "attributes": image.get("attributes") or {},
            "types": image.get("types") or {},
        }
        for offset, image in enumerate(images)
    ]
    try:
        conn.execute(where.table.insert(), rows)
    except IntegrityError as error:
        raise ConflictError(
            f"{where.kind} {owner!r}: the created images repeat a zarr_url "
            f"({error.orig})."
        ) from error


def _insert_images_pg(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    images: Sequence[Mapping[str, Any]],
    first: int,
) -> None:
    """PostgreSQL: INSERT ... SELECT from one JSON document, positions in order."""
    sql = (
        f"INSERT INTO {where.table.name} "  # noqa: S608 - fixed names
        f"({where.owner_column}, position, zarr_url, origin, attributes, types) "
        "SELECT %(owner)s, %(first)s + v.n - 1, v.image->>'zarr_url', "
        "v.image->>'origin', COALESCE(v.image->'attributes', '{}'), "
        "COALESCE(v.image->'types', '{}') "
        "FROM jsonb_array_elements(CAST(%(rows)s AS jsonb)) "
        "WITH ORDINALITY AS v(image, n)"
    )
    for start in range(0, len(images), PG_BATCH):
        chunk = images[start : start + PG_BATCH]
        params = {"owner": owner, "first": first + start, "rows": _json_rows(chunk)}
        try:
            _pg_execute(conn, sql, params)
        except Exception as error:
            if getattr(error, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            raise ConflictError(
                f"{where.kind} {owner!r}: the created images repeat a zarr_url "
                f"({error})."
            ) from error


def update_images(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    images: Sequence[Mapping[str, Any]],
) -> None:
    """Replace images in place (same position), matched by zarr_url."""
    if not images:
        return
    t = where.table
    if conn.dialect.name == "postgresql":
        _update_images_pg(conn, where, owner, images)
        return
    statement = (
        update(t)
        .where(
            where.owner() == bindparam("b_owner"), t.c.zarr_url == bindparam("b_url")
        )
        .values(
            origin=bindparam("b_origin"),
            attributes=bindparam("b_attributes", type_=t.c.attributes.type),
            types=bindparam("b_types", type_=t.c.types.type),
        )
    )
    rows = [
        {
            "b_owner": owner,
            "b_url": image["zarr_url"],
            "b_origin": image.get("origin"),
            "b_attributes": image.get("attributes") or {},
            "b_types": image.get("types") or {},
        }
        for image in images
    ]
    result = conn.execute(statement, rows)
    _check_all_found(conn, where, owner, images, result.rowcount)


def _update_images_pg(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    images: Sequence[Mapping[str, Any]],
) -> None:
    """PostgreSQL: one UPDATE ... FROM jsonb_to_recordset(one JSON document).

    Sending the rows as one JSON text keeps the driver out of the loop
    (per-element array adaptation costs more than the update itself); jsonb
    parses the document once (json_to_recordset would parse every image's
    attributes and types a second time).
    """
    sql = (
        f"UPDATE {where.table.name} AS i SET origin = v.origin, "  # noqa: S608
        "attributes = COALESCE(v.attributes, '{}'), types = COALESCE(v.types, '{}') "
        "FROM jsonb_to_recordset(CAST(%(rows)s AS jsonb)) "
        "AS v(zarr_url text, origin text, attributes jsonb, types jsonb) "
        f"WHERE i.{where.owner_column} = %(owner)s AND i.zarr_url = v.zarr_url"
    )
    found = 0
    for start in range(0, len(images), PG_BATCH):
        chunk = images[start : start + PG_BATCH]
        found += _pg_execute(conn, sql, {"owner": owner, "rows": _json_rows(chunk)})
    _check_all_found(conn, where, owner, images, found)


def _json_rows(images: Sequence[Mapping[str, Any]]) -> str:
    """The images as one JSON array (missing keys read as NULL by the server)."""
    return json.dumps(list(images))


def _pg_execute(conn: Connection, sql: str, params: Mapping[str, Any]) -> int:
    """Run one statement on the connection's own DBAPI cursor; return rowcount."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _check_all_found(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    images: Sequence[Mapping[str, Any]],
    rowcount: int,
) -> None:
    if rowcount < 0 or rowcount == len(images):
        return
    present = set(
        existing_urls(conn, where, owner, [image["zarr_url"] for image in images])
    )
    missing = [
        image["zarr_url"] for image in images if image["zarr_url"] not in present
    ]
    if missing:
        raise NotFoundError(
            f"{where.kind} {owner!r} has no image with zarr_url {missing[0]!r} "
            f"({len(missing)} of the updated images missing)."
        )


def existing_urls(
    conn: Connection, where: ImageTable, owner: Any, urls: Sequence[str]
) -> list[str]:
    """Which of `urls` the list holds."""
    t = where.table
    found: list[str] = []
    for start in range(0, len(urls), CHUNK):
        chunk = list(urls[start : start + CHUNK])
        found.extend(
            conn.scalars(
                select(t.c.zarr_url).where(
                    where.owner() == owner, t.c.zarr_url.in_(chunk)
                )
            )
        )
    return found


def delete_images(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    urls: Sequence[str],
    *,
    strict: bool = True,
) -> int:
    """Delete the images with these zarr_urls; return how many were deleted.

    `strict`: an absent zarr_url raises `NotFoundError` naming it, before
    anything is deleted.
    """
    t = where.table
    if strict:
        present = set(existing_urls(conn, where, owner, urls))
        absent = [url for url in urls if url not in present]
        if absent:
            raise NotFoundError(
                f"{where.kind} {owner!r} has no image with zarr_url {absent[0]!r} "
                f"({len(absent)} of the removed images absent)."
            )
    deleted = 0
    for start in range(0, len(urls), CHUNK):
        chunk = list(urls[start : start + CHUNK])
        result = conn.execute(
            delete(t).where(where.owner() == owner, t.c.zarr_url.in_(chunk))
        )
        deleted += max(result.rowcount, 0)
    return deleted


def apply_changes(
    conn: Connection,
    where: ImageTable,
    owner: Any,
    changes: ImageChanges,
    *,
    strict: bool = True,
) -> None:
    """Removals, then in-place updates, then appends: O(k) rows for k changes.

    `strict=False` (the recorder) tolerates removing an absent zarr_url: a
    task may create and remove the same image, which then never reached the
    database.
    """
    if changes.removed:
        delete_images(conn, where, owner, changes.removed, strict=strict)
    update_images(conn, where, owner, changes.updated)
    insert_images(conn, where, owner, changes.created)


def replace_all(
    conn: Connection, where: ImageTable, owner: Any, images: Iterable[Mapping[str, Any]]
) -> None:
    """Drop the whole list and store `images` in their order."""
    conn.execute(delete(where.table).where(where.owner() == owner))
    insert_images(conn, where, owner, list(images))


# --- filters -----------------------------------------------------------------


def _sqlite_path(key: str) -> str | None:
    """A JSON path naming `key`, or None when SQLite's path syntax cannot."""
    if '"' in key or "\\" in key or any(ord(ch) < 32 for ch in key):
        return None
    return f'$."{key}"'


def _pg_candidates(value: Any) -> list[str]:
    """JSONB texts equal to `value` under Python's `==` (1 == 1.0 == True)."""
    texts = [json.dumps(value)]
    if isinstance(value, bool):
        texts.append(str(int(value)))
    elif isinstance(value, int | float) and value in (0, 1):
        texts.append("true" if value else "false")
    return texts


def sql_filters(
    dialect: str,
    where: ImageTable,
    type_filters: Mapping[str, bool],
    attribute_filters: Mapping[str, Sequence[Any]],
) -> tuple[list[ColumnElement[bool]], dict[str, bool], dict[str, list[Any]]]:
    """SQL conditions for the filters, plus what is left for Python."""
    t = where.table
    conditions: list[ColumnElement[bool]] = []
    left_types: dict[str, bool] = {}
    left_attributes: dict[str, list[Any]] = {}
    for key, wanted in type_filters.items():
        if dialect == "postgresql":
            value = cast(t.c.types, JSONB).op("->")(literal(key))
            true = cast(literal("true"), JSONB)
            conditions.append(
                value == true if wanted else or_(value.is_(None), value != true)
            )
            continue
        path = _sqlite_path(key)
        if path is None:
            left_types[key] = wanted
            continue
        extracted = func.coalesce(func.json_extract(t.c.types, path), 0)
        conditions.append(extracted == (1 if wanted else 0))
    for key, accepted in attribute_filters.items():
        if not accepted:
            conditions.append(false())
            continue
        if dialect == "postgresql":
            value = cast(t.c.attributes, JSONB).op("->")(literal(key))
            candidates = [
                cast(literal(text), JSONB)
                for v in accepted
                for text in _pg_candidates(v)
            ]
            conditions.append(value.in_(candidates))
            continue
        path = _sqlite_path(key)
        if path is None:
            left_attributes[key] = list(accepted)
            continue
        scalar = func.json_type(t.c.attributes, path).not_in(["array", "object"])
        conditions.append(
            and_(scalar, func.json_extract(t.c.attributes, path).in_(list(accepted)))
        )
    return conditions, left_types, left_attributes
