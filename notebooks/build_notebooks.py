"""Write the notebooks of this folder from the cell lists below (no outputs).

The `.ipynb` files are committed; edit the cells here and run
`python3 notebooks/build_notebooks.py` to write them again, so that the
notebooks stay reviewable as plain Python. `tests/notebooks` executes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell
from nbformat.v4 import new_markdown_cell
from nbformat.v4 import new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cells_persistence import CELLS as PERSISTENCE  # noqa: E402
from cells_quickstart import CELLS as QUICKSTART  # noqa: E402
from cells_real_tasks import CELLS as REAL_TASKS  # noqa: E402

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_fractal_tasks_core.ipynb": REAL_TASKS,
    "03_persistence_and_resume.ipynb": PERSISTENCE,
}
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook of ("md" | "py", source) cells, without outputs."""
    nb = new_notebook(metadata={"kernelspec": KERNEL})
    for kind, source in cells:
        text = source.strip("\n")
        nb.cells.append(
            new_markdown_cell(text) if kind == "md" else new_code_cell(text)
        )
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:02d}"  # stable ids: rebuilding changes nothing
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    main()
