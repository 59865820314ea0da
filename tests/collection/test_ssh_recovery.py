"""A collection over SSH killed mid-way (SIGKILL of the local process) is recovered.

The base interpreter on the remote side is a stand-in (`standins.SCRIPT`) whose
`-m venv` blocks and leaves a child running, both carrying the operation's
token in their environment. Killing the local process leaves, on the remote
side, a half-built folder with its owner record, the remote lock folder and
those two processes. The next attempt (or a sweep with `recover_stale_folders`)
takes the stale lock over, kills the leftovers on the remote host, removes the
folder and collects normally.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import collect_wheel
from fractal_core.collection import recover_stale_folders
from fractal_core.hosts import SSHHost
from tests.ssh import sshd as _sshd
from tests.ssh.fixtures import scratch_dir

from .ssh_fixtures import REMOTE_PYTHON
from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_python_settings
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import start_child_collection
from .ssh_fixtures import wait_for
from .standins import SCRIPT
from .standins import marked_pids
from .standins import wait_none_left


def _remote_slow_python(remote: SSHHost) -> tuple[str, str, str, str]:
    """A blocking stand-in interpreter on the remote side (its paths, its marker)."""
    home = scratch_dir(remote)
    marker = f"fractal-standin-{uuid.uuid4().hex}"
    python, gate, started = f"{home}/python", f"{home}/gate", f"{home}/started"
    script = SCRIPT.format(
        real=REMOTE_PYTHON, gate=gate, started=started, marker=marker
    )
    remote.write_text(python, script)
    remote.run(["chmod", "755", python]).check()
    remote.write_text(gate, "")
    return python, gate, started, marker


@pytest.mark.parametrize("recover", ["next attempt", "sweep"])
def test_collection_killed_over_ssh_is_recovered(
    sshd: _sshd.SSHServer,
    remote: SSHHost,
    remote_settings: CollectionSettings,
    testkit_wheel: Path,
    tmp_path: Path,
    recover: str,
) -> None:
    python, gate, started, marker = _remote_slow_python(remote)
    slow = remote_settings.model_copy(
        update={"python": remote_python_settings(remote, python)}
    )
    child = start_child_collection(
        sshd.endpoint, slow, testkit_wheel, 8, tmp_path / "events.json"
    )
    try:
        wait_for(lambda: remote.exists(started), "the blocked venv step")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    path = f"{remote_settings.base_dir}/8/fractal-tasks-testkit/0.1.0"
    # What the killed process left on the remote side.
    assert remote.is_dir(path) and remote.is_file(f"{path}.owner.json")
    assert remote.is_file(f"{path}.lock/owner.json")
    assert len(marked_pids(marker)) >= 1  # the blocked step and its child

    if recover == "sweep":
        assert recover_stale_folders(remote_settings, host=remote) == [path]
        wait_none_left(marker)
        assert not remote.exists(path) and not remote.exists(f"{path}.owner.json")
        assert not remote.exists(f"{path}.lock")
    res = collect_wheel(testkit_wheel, settings=remote_settings, user_id=8, host=remote)
    assert res.ok, res.activity.log
    if recover == "next attempt":
        log = res.activity.log
        assert f"Took over the stale lock {path}.lock" in log
        assert f"pid={child.pid} on host" in log
        assert "Recovery: removed a half-built folder left by dead process" in log
        assert "killed its leftover processes" in log
    wait_none_left(marker)
    assert remote.is_file(f"{path}/venv/bin/python")
    assert not remote.exists(f"{path}.owner.json") and not remote.exists(f"{path}.lock")
    remote.remove_tree(
        os.path.dirname(gate), base=os.path.dirname(os.path.dirname(gate))
    )
