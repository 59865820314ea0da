"""Pixi and custom-environment task groups over SSH, with their activities.

The real pixi binary cannot be installed from the registries this project
reaches, so the pixi tests use the same stand-in as `test_pixi.py` (it honours
pixi's command-line contract), written on the remote side with the remote
interpreter in its shebang: collection, deactivation, reactivation and
deletion then run through `SSHHost` exactly as locally, remote lock included.
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PixiSettings
from fractal_core.collection import collect_custom
from fractal_core.collection import collect_pixi
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import find_task_groups
from fractal_core.collection import reactivate
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status
from fractal_core.hosts import SSHHost
from tests.ssh.fixtures import scratch_dir

from .helpers import TASK_SCRIPT
from .helpers import manifest
from .ssh_fixtures import REMOTE_PYTHON
from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)
from .test_pixi import LOCK
from .test_pixi import STAND_IN
from .test_pixi import _archive


def _remote_pixi(remote: SSHHost, version: str = "0.47.0") -> str:
    """A stand-in pixi home on the remote side."""
    home = f"{scratch_dir(remote)}/pixi/{version}"
    remote.mkdir(f"{home}/bin")
    remote.write_text(f"{home}/bin/pixi", f"#!{REMOTE_PYTHON}\n{STAND_IN}")
    remote.run(["chmod", "755", f"{home}/bin/pixi"]).check()
    return home


def _calls(remote: SSHHost, home: str) -> list[dict]:
    text = remote.read_text(f"{home}/calls.jsonl")
    return [json.loads(line) for line in text.splitlines()]


def _statuses(events: list[TaskGroupActivity]) -> list[str]:
    """The distinct statuses an activity went through, in order."""
    seen: list[str] = []
    for a in events:
        if not seen or seen[-1] != str(a.status):
            seen.append(str(a.status))
    return seen


def test_pixi_lifecycle_over_ssh(
    remote: SSHHost, remote_settings: CollectionSettings, tmp_path: Path
) -> None:
    home = _remote_pixi(remote)
    pixi = PixiSettings(versions={"0.47.0": home}, default_version="0.47.0")
    settings = remote_settings.model_copy(update={"pixi": pixi})
    events: list[TaskGroupActivity] = []
    on_change = lambda a: events.append(a.model_copy())  # noqa: E731

    archive = _archive(tmp_path / "up")
    res = collect_pixi(
        archive, settings=settings, user_id=3, host=remote, on_change=on_change
    )
    assert res.ok, res.activity.log
    assert _statuses(events) == ["pending", "ongoing", "OK"]
    group = res.task_group
    assert group is not None
    path = f"{settings.base_dir}/3/mypkg/0.1.0"
    source = f"{path}/source_dir"
    assert group.path == path and group.env_info == LOCK
    assert os.stat(f"{source}/pixi.lock").st_uid == pwd.getpwnam("fractal_user").pw_uid
    (task,) = group.task_list
    assert task.command_non_parallel == (
        f"{source}/project_python.sh {source}/src/mypkg/t1.py"
    )
    install = _calls(remote, home)[0]
    assert install["argv"][0] == "install" and install["cwd"] == path
    assert "--frozen" in install["argv"] and install["tokio"] == "2"
    # The task runs on the remote side through the pixi environment's wrapper.
    remote.write_text(f"{path}/a.json", '{"x": 1}')
    argv = task.command_non_parallel.split()
    argv += ["--args-json", f"{path}/a.json", "--out-json", f"{path}/o.json"]
    remote.run(argv).check()
    assert json.loads(remote.read_text(f"{path}/o.json")) == {"echo": {"x": 1}}
    assert [g.path for g in find_task_groups(settings, host=remote)] == [path]

    events.clear()
    res = deactivate(group, settings=settings, host=remote, on_change=on_change)
    assert res.ok, res.activity.log
    assert _statuses(events)[-1] == "OK" and res.activity.log
    assert not remote.exists(source) and remote.is_file(str(group.archive_path))

    events.clear()
    res = reactivate(group, settings=settings, host=remote, on_change=on_change)
    assert res.ok, res.activity.log
    assert _statuses(events) == ["pending", "ongoing", "OK"]
    assert remote.read_text(f"{source}/pixi.lock") == LOCK
    assert "--frozen" in _calls(remote, home)[-3]["argv"]

    res = delete(group, settings=settings, host=remote)
    assert res.ok and res.activity.status == Status.OK, res.activity.log
    assert f"Removed {path}" in res.activity.log
    assert not remote.exists(path) and not remote.exists(f"{path}.lock")


def test_custom_environment_over_ssh(
    remote: SSHHost, remote_settings: CollectionSettings
) -> None:
    """`package_name` is resolved by the remote interpreter; the group's record
    lives on the remote side, is found again, deactivated and deleted."""
    settings = remote_settings
    env = f"{scratch_dir(remote)}/env"
    remote.run([REMOTE_PYTHON, "-m", "venv", "--without-pip", env]).check()
    python = f"{env}/bin/python"
    site = remote.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    root = f"{site}/my_tasks"
    remote.mkdir(root)
    remote.write_text(f"{root}/__init__.py", "")
    remote.write_text(f"{root}/t1.py", TASK_SCRIPT)
    group = collect_custom(
        manifest("t1"),
        python_interpreter=python,
        label="my env",
        version="1.0",
        package_name="my-tasks",
        host=remote,
        check_files=True,
        user_id=5,
        settings=settings,
    )
    (task,) = group.task_list
    assert task.command_non_parallel == f"{python} {root}/t1.py"
    remote.write_text(f"{env}/a.json", '{"y": 2}')
    argv = task.command_non_parallel.split()
    remote.run(
        [*argv, "--args-json", f"{env}/a.json", "--out-json", f"{env}/o.json"]
    ).check()
    assert json.loads(remote.read_text(f"{env}/o.json")) == {"echo": {"y": 2}}

    (found,) = find_task_groups(settings, host=remote)
    assert found.pkg_name == "my env" and found.task_list == group.task_list
    res = deactivate(found, settings=settings, host=remote)
    assert res.ok and found.active is False
    assert "set task_group.active to False" in res.activity.log
    (again,) = find_task_groups(settings, host=remote)
    assert again.active is False
    res = reactivate(again, settings=settings, host=remote)
    assert res.ok and again.active is True
    res = delete(again, settings=settings, host=remote)
    assert res.ok, res.activity.log
    assert find_task_groups(settings, host=remote) == []
    assert remote.is_file(f"{root}/t1.py")  # the environment is not ours to remove
