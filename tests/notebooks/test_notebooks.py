"""Execute every notebook of notebooks/ in a fresh kernel, as a new user would.

Each notebook runs top to bottom with nbclient in a new `python3` kernel whose
working folder is a temporary one; any error fails the test, and a few printed
figures (image counts, statuses) are checked. The kernel inherits this
process's environment: `FRACTAL_NOTEBOOK_DIR` points the notebook's writes
into the test's temporary folder, and `FRACTAL_NOTEBOOK_TASKS_DIR` shares one
collection of a task package between notebooks (the fractal-tasks-core one
reuses the suite's cached collection from tests/collection).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
CELL_TIMEOUT = 900  # seconds; the first fractal-tasks-core cell may install


def execute(name: str, work: Path) -> str:
    """Run notebook `name` in a fresh kernel with cwd `work`; return its text output."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return "\n".join(_texts(nb))


def _texts(nb: nbformat.NotebookNode) -> list[str]:
    """Printed text and plain-text results of every code cell, in order."""
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output["name"] == "stdout":
                texts.append(output["text"])
            elif "data" in output:
                texts.append(str(output["data"].get("text/plain", "")))
    return texts


@pytest.fixture(scope="module")
def shared_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the testkit collection, shared by the notebooks using it."""
    return tmp_path_factory.mktemp("notebook_tasks")


@pytest.fixture
def notebook_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A working folder (the kernel's cwd) and the notebooks' output folder."""
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    out.mkdir()
    monkeypatch.setenv("FRACTAL_NOTEBOOK_DIR", str(out))
    return cwd, out


def test_notebooks_are_committed_as_built_and_without_outputs() -> None:
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import build_notebooks  # noqa: PLC0415 - lives next to the notebooks
    finally:
        sys.path.remove(str(NOTEBOOKS))
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(
        build_notebooks.NOTEBOOKS
    )
    for name, cells in build_notebooks.NOTEBOOKS.items():
        committed = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(committed)
        built = build_notebooks.notebook(cells)
        assert [c.source for c in committed.cells] == [c.source for c in built.cells]
        for cell in committed.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


def test_quickstart(
    notebook_env: tuple[Path, Path], shared_tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd, out = notebook_env
    monkeypatch.setenv("FRACTAL_NOTEBOOK_TASKS_DIR", str(shared_tasks))
    text = execute("01_quickstart.ipynb", cwd)
    assert "fractal-tasks-testkit 0.1.0: 12 tasks" in text
    assert "job status: done" in text
    assert "images in the dataset: 8" in text
    assert "2D images: 4" in text
    assert "3D images of wells A01 and A02: 2" in text
    assert "<JobOutcome" in text and "3 tasks run, 0 failures" in text
    assert "8 images>" in text  # the Dataset's repr
    assert (out / "quickstart" / "zarr" / "plate_mip.zarr" / "A" / "04" / "0").is_dir()
    assert list(cwd.iterdir()) == []  # nothing written outside its folder


def test_persistence_and_resume(
    notebook_env: tuple[Path, Path], shared_tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd, out = notebook_env
    monkeypatch.setenv("FRACTAL_NOTEBOOK_TASKS_DIR", str(shared_tasks))
    text = execute("03_persistence_and_resume.ipynb", cwd)
    assert "job 1 failed" in text
    assert "mark_image per image: {'done': 4, 'failed': 2}" in text
    assert "failed on: ['/zarr/plate.zarr/A/02/0', '/zarr/plate.zarr/A/05/0']" in text
    assert "mark_image run 2: 6 units" in text
    assert "to rerun: 2 images" in text
    assert "resume: done, 2 units run" in text  # only the failed images ran
    assert "mark_image per image: {'done': 6}" in text
    assert "images in the dataset: 12 (first page: 5)" in text
    assert "marked images: 6" in text
    assert "mark_image: done" in text
    assert (out / "persistence" / "fractal.db").is_file()
    assert list(cwd.iterdir()) == []


@pytest.mark.slow
def test_fractal_tasks_core(
    notebook_env: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from collection import collection_cache  # noqa: PLC0415 - slow path only

    collection_cache.cached_fractal_tasks_core()  # once per machine (PyPI)
    tasks_dir = collection_cache.fractal_tasks_core_settings().base_dir
    monkeypatch.setenv("FRACTAL_NOTEBOOK_TASKS_DIR", str(tasks_dir))
    cwd, out = notebook_env
    text = execute("02_fractal_tasks_core.ipynb", cwd)
    assert "job status: done" in text
    assert "images in the dataset: 4" in text
    assert "2D images: 2" in text
    assert "well B03: 3 nuclei, 3 rows of features" in text
    assert "well B05: 2 nuclei, 2 rows of features" in text
    assert list(cwd.iterdir()) == []
