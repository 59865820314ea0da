"""Zip a finished job folder next to itself; delete the folder only when safe.

The folder is removed only if the zip holds as many files as the folder and is
at least `threshold_mb` MiB (small jobs keep both, like the reference).
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from pathlib import Path

__all__ = ["THRESHOLD_ZIP_FILE_SIZE_MB", "zip_folder"]

logger = logging.getLogger(__name__)

THRESHOLD_ZIP_FILE_SIZE_MB = 1.0


def _files(folder: Path) -> list[Path]:
    return [Path(root) / name for root, _, names in os.walk(folder) for name in names]


def zip_folder(
    folder: Path, *, threshold_mb: float = THRESHOLD_ZIP_FILE_SIZE_MB
) -> Path | None:
    """Write `<folder>.zip`; return its path, or None if zipping failed (logged)."""
    folder = Path(folder)
    tmp_zip = folder.with_name(f"{folder.name}_tmp.zip")
    final_zip = folder.with_name(f"{folder.name}.zip")
    try:
        if tmp_zip.exists():
            raise FileExistsError(f"Zip file '{tmp_zip}' already exists")
        files = _files(folder)
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(folder).as_posix())
        os.replace(tmp_zip, final_zip)
    except Exception as exc:
        logger.error("Cannot zip job folder %s: %s", folder, exc)
        tmp_zip.unlink(missing_ok=True)
        return None
    with zipfile.ZipFile(final_zip) as zf:
        num_entries = len(zf.namelist())
    big_enough = final_zip.stat().st_size >= threshold_mb * 1024**2
    if big_enough and num_entries == len(_files(folder)):
        shutil.rmtree(folder)
    return final_zip
