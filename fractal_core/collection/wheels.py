"""Build a wheel from a task package's source folder (`pip wheel --no-deps`)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..hosts import Host
from ..hosts import LocalHost
from .errors import CollectionStepError


def build_wheel(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    python: str | None = None,
    host: Host | None = None,
) -> Path:
    """Build one wheel of the project in `source` into `out_dir`; return its path.

    The source is copied to a temporary folder first, so no `build/` or
    `*.egg-info` is left behind in it.
    """
    host = host or LocalHost()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("*.whl"))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(
            source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info")
        )
        argv = [python or sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
        res = host.run([*argv, "-w", str(out), str(copy)])
    if not res.ok:
        raise CollectionStepError(f"Cannot build a wheel of {source}:\n{res.stderr}")
    new = sorted(set(out.glob("*.whl")) - before) or sorted(out.glob("*.whl"))
    if len(new) != 1:
        raise CollectionStepError(f"Expected one wheel in {out}, found {new}.")
    return new[0]
