"""The names the guides' examples use without defining them (see docs/index.md).

Built fresh for every page from the testkit task package, so every example
runs for real: `fc`, `tasks`, `group`, `task_groups`, `wf`, `ds`, `ex`,
`recorder`, `job_dir`, `job_dir_2`, `k`, `folder`, and `wf.json` in the
working folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fractal_core as fc
from fractal_core.domain import TaskGroup
from fractal_core.engine import InMemoryRecorder
from tests.engine.testkit import InstalledTestkit


def testkit_group(kit: InstalledTestkit) -> TaskGroup:
    """The installed testkit as a task group, as collection would record it."""
    names = [entry["name"] for entry in kit.manifest["task_list"]]
    return TaskGroup(
        origin="wheel-file",
        pkg_name="fractal-tasks-testkit",
        version=kit.version,
        task_list=[kit.task(name) for name in names],
    )


def page_namespace(kit: InstalledTestkit, root: Path, ex: Any) -> dict[str, Any]:
    """A fresh namespace for one page's examples, writing below `root`."""
    group = testkit_group(kit)
    wf = fc.Workflow(name="example")
    wf.append_task(group.get_task("create_images"), args_non_parallel={"num_images": 4})
    wf.append_task(
        group.get_task("mark_image"),
        args_parallel={"copy_suffix": "_m", "fail_on": ["02/0"]},
    )
    fc.export_workflow_file(wf, [group], root / "wf.json")
    (root / "work").mkdir()
    return {
        "__name__": "__docs__",
        "fc": fc,
        "group": group,
        "task_groups": [group],
        "tasks": [group.get_task("project_compound"), group.get_task("mark_image")],
        "wf": wf,
        "ds": fc.Dataset(name="example", zarr_dir=str(root / "zarr")),
        "ex": ex,
        "recorder": InMemoryRecorder(),
        "job_dir": root / "jobs" / "1",
        "job_dir_2": root / "jobs" / "2",
        "k": 1,
        "folder": root / "work",
    }
