"""Cells shared by the notebooks: where they write, and nothing else."""

from __future__ import annotations


def folders_cell(name: str) -> tuple[str, str]:
    """The code cell choosing the notebook's folders (environment or temp)."""
    return (
        "py",
        f'''
import os
import tempfile
from pathlib import Path

import fractal_core as fc

# Everything this notebook writes goes below WORK: a folder named {name!r}
# in $FRACTAL_NOTEBOOK_DIR when that variable is set, a new temporary
# folder otherwise.
# Collected task packages go to $FRACTAL_NOTEBOOK_TASKS_DIR (default WORK/tasks),
# so that several runs can share one collection.
if os.environ.get("FRACTAL_NOTEBOOK_DIR"):
    WORK = Path(os.environ["FRACTAL_NOTEBOOK_DIR"]).resolve() / "{name}"
    WORK.mkdir(parents=True, exist_ok=True)
else:
    WORK = Path(tempfile.mkdtemp(prefix="fractal-{name}-")).resolve()
TASKS_DIR = Path(os.environ.get("FRACTAL_NOTEBOOK_TASKS_DIR") or WORK / "tasks")
print("fractal_core", fc.__version__, "writing under", WORK)
''',
    )


TESTKIT_CELL = (
    "py",
    """
from fractal_core.collection import build_wheel

# The small stdlib-only task package that comes with fractal_core's sources.
REPO = Path(fc.__file__).resolve().parent.parent
TESTKIT = Path(
    os.environ.get("FRACTAL_TESTKIT_DIR")
    or REPO / "tests" / "task_packages" / "fractal_tasks_testkit"
)
settings = fc.CollectionSettings.for_current_python(str(TASKS_DIR))
found = [
    g for g in fc.find_task_groups(settings) if g.pkg_name == "fractal-tasks-testkit"
]
if found:
    group = found[-1]  # collected by an earlier run
else:
    wheel = build_wheel(TESTKIT, WORK / "dist")
    group = fc.collect_wheel(wheel, settings=settings).raise_for_failure().task_group
tasks = {task.name: task for task in group.task_list}
print(f"{group.pkg_name} {group.version}: {len(tasks)} tasks")
group
""",
)
