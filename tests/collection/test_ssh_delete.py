"""Deletion over SSH stays inside the base folder and never follows a symlink out.

The removal rule is one function (`hosts.base.check_removal_target`) used by
every host: the same folder tree (the sshd runs on this machine) is attacked
through `LocalHost` and through `SSHHost`, and both refuse with the same
message. Then `delete` over SSH is given paths outside the base folder, a
group folder that is a symlink, an owner folder that is a symlink, and a
group folder holding a symlink to a folder outside: the outside is untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import TaskGroupStateError
from fractal_core.collection import delete
from fractal_core.domain.task_group import TaskGroup
from fractal_core.hosts import Host
from fractal_core.hosts import LocalHost
from fractal_core.hosts import SSHHost
from fractal_core.hosts import UnsafePathError
from tests.ssh.fixtures import scratch_dir

from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)


def _ln(remote: SSHHost, target: str, link: str) -> None:
    remote.run(["ln", "-s", "--", target, link]).check()


def _outside(remote: SSHHost) -> str:
    """A folder outside every base folder, with a file that must survive."""
    folder = f"{scratch_dir(remote)}/outside"
    remote.mkdir(folder)
    remote.write_text(f"{folder}/keep.txt", "keep")
    return folder


CASES: list[tuple[str, str]] = [
    ("{outside}", "is not strictly inside base="),
    ("{base}", "is not strictly inside base="),
    ("{base}/a/../../x", "contains a '..' component"),
    ("relative/path", "is not absolute"),
    ("{base}/link_out", "which is not strictly inside base="),
    ("{base}/link_in", "is a symlink"),
]


def _attempt(host: Host, path: str, base: str) -> str:
    with pytest.raises(UnsafePathError) as e:
        host.remove_tree(path, base=base)
    return str(e.value)


def test_one_removal_rule_for_local_and_ssh_hosts(remote: SSHHost) -> None:
    base = f"{scratch_dir(remote)}/base"
    outside = _outside(remote)
    remote.mkdir(f"{base}/a")
    _ln(remote, outside, f"{base}/link_out")
    _ln(remote, f"{base}/a", f"{base}/link_in")
    hosts: list[Callable[[], Host]] = [LocalHost, lambda: remote]
    for template, fragment in CASES:
        path = template.format(base=base, outside=outside)
        local, over_ssh = (_attempt(make(), path, base) for make in hosts)
        assert fragment in local and local == over_ssh
    # A symlink inside a removed folder is removed, not followed.
    remote.mkdir(f"{base}/gone")
    _ln(remote, outside, f"{base}/gone/link")
    remote.remove_tree(f"{base}/gone", base=base)
    assert not remote.exists(f"{base}/gone")
    assert remote.read_text(f"{outside}/keep.txt") == "keep"
    assert remote.is_dir(f"{base}/a")


def _group(path: str, user_id: int = 1) -> TaskGroup:
    return TaskGroup.model_validate(
        {"origin": "wheel-file", "pkg_name": "pkg", "version": "1.0",
         "user_id": user_id, "path": path, "venv_path": f"{path}/venv"}
    )  # fmt: skip


def test_delete_over_ssh_refuses_outside_paths_and_symlinks(
    remote: SSHHost, remote_settings: CollectionSettings
) -> None:
    settings, base = remote_settings, remote_settings.base_dir
    outside = _outside(remote)
    with pytest.raises(TaskGroupStateError, match="not inside the base folder"):
        delete(_group(outside), settings=settings, host=remote)
    # The group folder itself is a symlink to a folder outside.
    remote.mkdir(f"{base}/1/pkg")
    _ln(remote, outside, f"{base}/1/pkg/1.0")
    with pytest.raises(TaskGroupStateError, match="goes through a symlink"):
        delete(_group(f"{base}/1/pkg/1.0"), settings=settings, host=remote)
    # The owner's folder is a symlink to a tree outside.
    remote.mkdir(f"{outside}/pkg/1.0")
    _ln(remote, outside, f"{base}/2")
    with pytest.raises(TaskGroupStateError, match="goes through a symlink"):
        delete(_group(f"{base}/2/pkg/1.0", 2), settings=settings, host=remote)
    assert remote.is_dir(f"{outside}/pkg/1.0")
    # A real group folder holding a symlink out: removed, the outside kept.
    remote.mkdir(f"{base}/3/pkg/1.0/venv")
    _ln(remote, outside, f"{base}/3/pkg/1.0/venv/escape")
    res = delete(_group(f"{base}/3/pkg/1.0", 3), settings=settings, host=remote)
    assert res.ok and res.task_group is None, res.activity.log
    assert not remote.exists(f"{base}/3/pkg/1.0") and remote.is_dir(f"{base}/3/pkg")
    assert remote.read_text(f"{outside}/keep.txt") == "keep"
    assert remote.run(["ls", "-A", f"{base}/3/pkg"]).stdout == ""  # lock gone too
