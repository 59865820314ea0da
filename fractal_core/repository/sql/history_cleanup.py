"""What deleting a dataset or a workflow task does to history (reference §1.9).

History rows carry text keys, not foreign keys (see `keys.py`), so the
cascades the reference gets from its database are spelled out here: a
deleted dataset loses its runs, units and image-cache rows; a deleted
workflow task loses its image-cache rows, its runs and units are kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.orm import Session

from .keys import encode_key
from .models import ImageCacheRow
from .models import RunRow


def forget_dataset_history(session: Session, dataset_id: int) -> None:
    """Delete the runs (units follow) and image-cache rows of a dataset."""
    key = encode_key(dataset_id)
    session.execute(delete(ImageCacheRow).where(ImageCacheRow.dataset_key == key))
    session.execute(delete(RunRow).where(RunRow.dataset_key == key))


def forget_workflowtask_cache(session: Session, wftask_ids: Iterable[int]) -> None:
    """Delete the image-cache rows of these workflow tasks (runs are kept)."""
    keys = [encode_key(wftask_id) for wftask_id in wftask_ids]
    if keys:
        session.execute(
            delete(ImageCacheRow).where(ImageCacheRow.workflowtask_key.in_(keys))
        )


def forget_image_status(
    session: Session, dataset_id: int, zarr_urls: list[str]
) -> None:
    """Delete the image-cache rows of these images of a dataset, for every task."""
    key = encode_key(dataset_id)
    for start in range(0, len(zarr_urls), 500):
        chunk = zarr_urls[start : start + 500]
        session.execute(
            delete(ImageCacheRow).where(
                ImageCacheRow.dataset_key == key, ImageCacheRow.zarr_url.in_(chunk)
            )
        )
