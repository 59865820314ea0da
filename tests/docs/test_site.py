"""The documentation site builds with `mkdocs build --strict`, without warnings.

A real mkdocs run in a subprocess (mkdocstrings renders the API reference
from the docstrings of the fractal_core being tested), into a temporary
folder; then a few pages are checked for what they must contain.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300  # seconds; the build takes about 15 s


def test_site_builds_strictly_without_warnings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "WARNING" not in output, output
    pages = {
        "glossary/index.html": ["zarr_dir", "Parallelisation list", "Task group"],
        "tutorial/index.html": ["collect_wheel", "run_job"],
        "data-flow/index.html": ["Filters choose the images"],
        "from-fractal-server/index.html": ["/job/submit/", "resume_task"],
        # generated from docstrings
        "api/engine/index.html": ["fractal_core.engine.run_job", "JobHandle"],
        "api/services/index.html": ["create_project"],
    }
    for page, needles in pages.items():
        text = (site / page).read_text()
        for needle in needles:
            assert needle in text, (page, needle)
    for guide in ("engine", "executors", "collection", "repository", "slurm"):
        assert (site / guide / "index.html").is_file(), guide
