"""Collection over SSH: the testkit wheel collected on a remote host; its lifecycle.

The "remote" host is the test user on the session's loopback sshd (`SSHHost`);
the base folder lies in that user's home and the interpreter is the system
Python. The lock of each task-group folder is a folder on the remote side,
taken through the host. Since the sshd runs on this machine, the tests check
the remote files directly as well (owner: the remote user).
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

from fractal_core.collection import CollectionSettings
from fractal_core.collection import collect_wheel
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import find_task_groups
from fractal_core.collection import load_task_group
from fractal_core.collection import reactivate
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status
from fractal_core.domain.task_group import TaskGroupOrigin
from fractal_core.hosts import SSHHost

from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)


def _run_remote_task(remote: SSHHost, command: str, args: dict, work: str) -> object:
    """Run a collected task's command on the remote host, as the engine would."""
    remote.write_text(f"{work}/args.json", json.dumps(args))
    argv = [*command.split(" "), "--args-json", f"{work}/args.json"]
    remote.run([*argv, "--out-json", f"{work}/out.json"], timeout=120).check()
    if not remote.exists(f"{work}/out.json"):
        return None
    return json.loads(remote.read_text(f"{work}/out.json"))


def test_wheel_collected_over_ssh_and_its_lifecycle(
    remote: SSHHost, remote_settings: CollectionSettings, testkit_wheel: Path
) -> None:
    settings, user = remote_settings, pwd.getpwnam("fractal_user")
    res = collect_wheel(testkit_wheel, settings=settings, user_id=3, host=remote)
    assert res.ok, res.activity.log
    group = res.task_group
    assert group is not None and group.origin == TaskGroupOrigin.WHEELFILE
    path = f"{settings.base_dir}/3/fractal-tasks-testkit/0.1.0"
    assert group.path == path and group.archive_path == f"{path}/{testkit_wheel.name}"

    # Everything was written remotely, by the remote user: wheel, venv, freeze.
    assert remote.is_file(group.archive_path)
    assert os.stat(group.archive_path).st_uid == user.pw_uid
    assert os.stat(f"{path}/venv/bin/python").st_uid == user.pw_uid
    assert remote.read_text(f"{path}/pip_freeze.txt") == group.env_info
    assert f"fractal-tasks-testkit @ file://{group.archive_path}" in group.env_info

    # The remote manifest, read back over SSH, became the group's tasks.
    names = {t.name for t in group.task_list}
    assert {"create_images", "mark_image"} <= names
    task = group.get_task("mark_image")
    assert task.command_parallel is not None
    assert task.command_parallel.startswith(f"{path}/venv/bin/python {path}/venv/lib/")
    work = f"{settings.base_dir}/work"
    remote.mkdir(work)
    out = _run_remote_task(
        remote,
        task.command_parallel,
        {"zarr_url": f"{work}/img", "copy_suffix": "_c"},
        work,
    )
    assert isinstance(out, dict)
    assert out["image_list_updates"][0]["zarr_url"] == f"{work}/img_c"

    # Found again from its remote record.
    assert [g.path for g in find_task_groups(settings, host=remote)] == [path]
    again = load_task_group(path, settings=settings, host=remote)
    assert [t.name for t in again.task_list] == [t.name for t in group.task_list]

    # Deactivate: remote venv gone, wheel and freeze kept.
    res = deactivate(group, settings=settings, host=remote)
    assert res.ok, res.activity.log
    assert group.active is False and not remote.exists(f"{path}/venv")
    assert remote.is_file(group.archive_path)

    # Reactivate: rebuilt remotely from the freeze (offline: the wheel is there).
    res = reactivate(group, settings=settings, host=remote)
    assert res.ok, res.activity.log
    assert group.active is True and remote.is_file(f"{path}/venv/bin/python")
    freeze = remote.run([f"{path}/venv/bin/python", "-m", "pip", "freeze", "--all"])
    assert sorted(freeze.stdout.splitlines()) == sorted(group.env_info.splitlines())

    # Delete: the remote folder goes, its parent stays.
    res = delete(group, settings=settings, host=remote)
    assert res.ok and res.task_group is None, res.activity.log
    assert not remote.exists(path)
    assert remote.is_dir(f"{settings.base_dir}/3/fractal-tasks-testkit")
    assert find_task_groups(settings, host=remote) == []


def test_lock_folder_lives_on_the_remote_side(
    remote: SSHHost, remote_settings: CollectionSettings, testkit_wheel: Path
) -> None:
    """While the collection runs, its lock is a folder of the remote user's."""
    settings = remote_settings
    lock = f"{settings.base_dir}/4/fractal-tasks-testkit/0.1.0.lock"
    seen: list[dict[str, object]] = []

    def on_change(activity: TaskGroupActivity) -> None:
        if activity.status == Status.ONGOING and not seen:
            st = os.stat(lock)
            owner = json.loads(remote.read_text(f"{lock}/owner.json"))
            seen.append({"uid": st.st_uid, "dir": remote.is_dir(lock), **owner})

    res = collect_wheel(
        testkit_wheel, settings=settings, user_id=4, host=remote, on_change=on_change
    )
    assert res.ok, res.activity.log
    assert len(seen) == 1
    assert seen[0]["uid"] == pwd.getpwnam("fractal_user").pw_uid
    assert seen[0]["dir"] is True and seen[0]["pid"] == os.getpid()
    assert (
        seen[0]["locked_path"] == f"{settings.base_dir}/4/fractal-tasks-testkit/0.1.0"
    )
    assert not remote.exists(lock)  # released, nothing left beside the folder
    assert remote.run(
        ["ls", f"{settings.base_dir}/4/fractal-tasks-testkit"]
    ).stdout.split() == ["0.1.0"]
