"""Collect the testkit wheel into a real venv, run a task, then the full lifecycle.

The wheel is built from tests/task_packages/fractal_tasks_testkit with
`pip wheel --no-deps`; pip and venv are real.
"""

from __future__ import annotations

import ensurepip
import json
import subprocess
import threading
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from fractal_core.collection import BackgroundOperation
from fractal_core.collection import CollectionSettings
from fractal_core.collection import TaskGroupPathExists
from fractal_core.collection import TaskGroupStateError
from fractal_core.collection import collect_wheel
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import reactivate
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status
from fractal_core.domain.task_group import TaskGroupOrigin
from fractal_core.domain.workflow import Workflow
from fractal_core.engine.runner import run_workflow
from fractal_core.executors.local import LocalExecutor


def _run_task(command: str, args: dict, tmp: Path) -> dict:
    args_file, out_file = tmp / "args.json", tmp / "out.json"
    args_file.write_text(json.dumps(args))
    argv = [
        *command.split(" "),
        "--args-json",
        str(args_file),
        "--out-json",
        str(out_file),
    ]
    subprocess.run(argv, check=True, capture_output=True)
    return json.loads(out_file.read_text())


@dataclass
class _Dataset:
    zarr_dir: str
    images: Any = field(default_factory=list)
    id: int = 1


def _run_workflow(group: TaskGroup, tmp_path: Path) -> list[dict]:
    """create_images then mark_image (copy), through the engine's LocalExecutor."""
    wf = Workflow(name="collected")
    wf.append_task(group.get_task("create_images"), validate_args=False)
    wf.append_task(
        group.get_task("mark_image"),
        validate_args=False,
        args_parallel={"copy_suffix": "_m"},
    )
    dataset = _Dataset(zarr_dir=str(tmp_path / "zarr"))
    with LocalExecutor(max_workers=2) as executor:
        result = run_workflow(
            wf_task_list=wf.task_list,
            dataset=dataset,
            executor=executor,
            workflow_dir_local=tmp_path / "job",
            job_id=1,
        )
    return result.images.to_list()


def test_wheel_collection_and_lifecycle(
    settings: CollectionSettings, testkit_wheel: Path, tmp_path: Path
) -> None:
    statuses: list[str] = []
    log_lengths: list[int] = []
    op = BackgroundOperation(
        collect_wheel,
        wheel_path=testkit_wheel,
        settings=settings,
        user_id=7,
        extras="unknown_extra",
        # FOLLOW 8.5: extras in a pinned name; pinned to the venv's own pip so
        # that pip is satisfied without the network.
        pinned_package_versions_pre={"pip[unused]": ensurepip.version()},
        on_change=lambda a: (
            statuses.append(a.status),
            log_lengths.append(len(a.log or "")),
        ),
    )
    live = op.activity(timeout=60)  # the same object the operation updates
    seen_while_running: list[str] = []

    def reader() -> None:  # another thread polls the live activity
        while not op.done():
            if live.status == Status.ONGOING and "START create venv" in (
                live.log or ""
            ):
                seen_while_running.append(live.log)
                return
            threading.Event().wait(0.01)

    watcher = threading.Thread(target=reader)
    watcher.start()
    result = op.result(timeout=600)
    watcher.join()
    assert result.ok, result.activity.log
    assert live is result.activity
    act, group = result.activity, result.task_group
    assert group is not None

    # Activity: pending -> ongoing -> OK, log grew while it ran, timestamps set.
    assert statuses[0] == Status.PENDING and statuses[-1] == Status.OK
    assert Status.ONGOING in statuses
    assert log_lengths == sorted(log_lengths) and log_lengths[-1] > log_lengths[1]
    assert (
        act.timestamp_ended is not None and act.timestamp_ended >= act.timestamp_started
    )
    assert seen_while_running, "no log seen while the collection was ongoing"
    assert len(seen_while_running[0]) < len(act.log)
    assert act.pkg_name == "fractal-tasks-testkit" and act.version == "0.1.0"
    assert ".whl[unknown_extra]" in act.log  # the install string, extras included
    assert f"pip[unused]=={ensurepip.version()}" in act.log

    # Task group fields and layout.
    base = Path(settings.base_dir)
    path = base / "7" / "fractal-tasks-testkit" / "0.1.0"
    assert group.origin == TaskGroupOrigin.WHEELFILE
    assert group.path == str(path) and group.venv_path == str(path / "venv")
    assert group.archive_path == str(path / testkit_wheel.name)
    assert Path(group.archive_path).is_file()
    assert group.python_version == settings.python.default_version
    assert f"fractal-tasks-testkit @ file://{group.archive_path}" in group.env_info
    assert (path / "pip_freeze.txt").read_text() == group.env_info
    names = [t.name for t in group.task_list]
    assert "mark_image" in names and len(names) == len(set(names))
    task = group.get_task("mark_image")
    python = str(path / "venv" / "bin" / "python")
    assert task.command_parallel.startswith(f"{python} {path}/venv/lib/")
    assert task.command_parallel.endswith("/fractal_tasks_testkit/mark_image.py")
    assert task.version == "0.1.0"

    # A task runs from the collected environment.
    zarr = tmp_path / "img"
    out = _run_task(
        task.command_parallel, {"zarr_url": str(zarr), "copy_suffix": "_c"}, tmp_path
    )
    assert out["image_list_updates"][0]["zarr_url"] == f"{zarr}_c"

    # The engine runs a workflow made of the collected tasks.
    images = _run_workflow(group, tmp_path)
    assert sorted(img["zarr_url"] for img in images) == sorted(
        [
            f"{tmp_path}/zarr/plate.zarr/A/{w}/0{s}"
            for w in ("01", "02")
            for s in ("", "_m")
        ]
    )

    # Collecting the same package again with other options is refused, and so
    # is any collection with if_exists="error"; the folder stays untouched.
    with pytest.raises(TaskGroupPathExists, match="collected with other options"):
        collect_wheel(testkit_wheel, settings=settings, user_id=7)
    with pytest.raises(TaskGroupPathExists, match="already exists"):
        collect_wheel(
            testkit_wheel,
            settings=settings,
            user_id=7,
            extras="unknown_extra",
            pinned_package_versions_pre={"pip[unused]": ensurepip.version()},
            if_exists="error",
        )
    assert Path(python).exists()

    # Deactivate: venv gone, wheel and freeze kept, group inactive.
    res = deactivate(group, settings=settings)
    assert res.ok, res.activity.log
    assert res.activity.action == "deactivate"
    assert not (path / "venv").exists()
    assert Path(group.archive_path).is_file() and (path / "pip_freeze.txt").exists()
    assert group.active is False
    with pytest.raises(TaskGroupStateError, match="active=False"):
        deactivate(group, settings=settings)

    # Reactivate: venv rebuilt from the freeze, same packages, task runs again.
    freeze_before = group.env_info
    res = reactivate(group, settings=settings)
    assert res.ok, res.activity.log
    assert group.active is True
    assert "install from pip freeze" in res.activity.log
    after = subprocess.run(
        [python, "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(after.splitlines()) == sorted(freeze_before.splitlines())
    out = _run_task(task.command_parallel, {"zarr_url": str(zarr)}, tmp_path)
    assert out is None
    with pytest.raises(TaskGroupStateError, match="active=True"):
        reactivate(group, settings=settings)

    # Reactivation refuses to overwrite an existing venv (and keeps it).
    group.active = False
    res = reactivate(group, settings=settings)
    assert res.activity.status == Status.FAILED and "already exists" in res.activity.log
    assert Path(python).exists() and group.active is False
    group.active = True

    # Delete: folder gone, group gone.
    res = delete(group, settings=settings)
    assert res.ok and res.task_group is None
    assert not path.exists()
    assert (base / "7" / "fractal-tasks-testkit").exists()
