"""Fixtures and helpers of the collection-over-SSH tests (imported by test_*ssh*).

Test modules import `remote_fixture` and `remote_settings_fixture`; the
fixtures are named `remote` and `remote_settings`.

The "remote" host is the test user on the session's loopback sshd (`SSHHost`);
each test gets a fresh base folder in that user's home, and the interpreter is
the system Python there. Since the sshd runs on this machine, tests may also
look at the remote files directly (e.g. their owner).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection.config import PythonSettings
from fractal_core.hosts import HostError
from fractal_core.hosts import SSHHost
from tests.ssh import sshd as _sshd
from tests.ssh.fixtures import host_for

from .conftest import child_env

REMOTE_PYTHON = "/usr/bin/python3"
TASKS_ROOT = "/home/fractal_user/fractal_core_ssh_tasks"

CHILD = """
import json, sys
from fractal_core.collection import CollectionSettings, TaskLifecycleError
from fractal_core.collection import collect_wheel
from fractal_core.hosts import SSHHost
ep, settings_json, wheel, user_id, events = sys.argv[1:6]
ep = json.loads(ep)
host = SSHHost(ep["host"], ep["user"], port=ep["port"], key_path=ep["key_path"])
settings = CollectionSettings.model_validate_json(settings_json)
def on_change(activity):
    with open(events, "w") as f:
        json.dump({"status": str(activity.status), "log": activity.log}, f)
try:
    collect_wheel(wheel, settings=settings, user_id=int(user_id), host=host,
                  on_change=on_change, if_exists="error")
except TaskLifecycleError as e:  # refused before any activity started
    with open(events, "w") as f:
        json.dump({"status": "refused", "log": f"{type(e).__name__}: {e}"}, f)
"""


@pytest.fixture(name="remote")
def remote_fixture(sshd: _sshd.SSHServer) -> SSHHost:
    """An `SSHHost` logged in as the test user of the session's sshd."""
    return host_for(sshd.endpoint)


def remote_python_settings(
    remote: SSHHost, python: str = REMOTE_PYTHON
) -> PythonSettings:
    """Python settings naming `python` under the remote system Python's version."""
    version = remote.run([REMOTE_PYTHON, "-c", "import sys; print(sys.version[:4])"])
    key = version.stdout.strip()
    return PythonSettings(
        default_version=key,  # type: ignore[arg-type]
        versions={key: python},  # type: ignore[dict-item]
    )


@pytest.fixture(name="remote_settings")
def remote_settings_fixture(remote: SSHHost) -> Iterator[CollectionSettings]:
    """A fresh base folder in the remote user's home; no local lock folder."""
    base = f"{TASKS_ROOT}/{uuid.uuid4().hex}"
    remote.mkdir(base)
    yield CollectionSettings(
        base_dir=base,
        python=remote_python_settings(remote),
        upgrade_pip=False,
        step_timeout=600,
    )
    try:
        remote.remove_tree(base, base=TASKS_ROOT)
    except HostError:  # same machine: remove what the test user could not
        shutil.rmtree(base, ignore_errors=True)


def start_child_collection(
    endpoint: _sshd.SSHEndpoint,
    settings: CollectionSettings,
    wheel: Path,
    user_id: int,
    events: Path,
) -> subprocess.Popen[bytes]:
    """A separate process collecting `wheel` over SSH; its activity goes to `events`."""
    ep = json.dumps(
        {"host": endpoint.host, "port": endpoint.port, "user": endpoint.user,
         "key_path": endpoint.key_path}
    )  # fmt: skip
    argv = [sys.executable, "-c", CHILD, ep, settings.model_dump_json(), str(wheel)]
    return subprocess.Popen([*argv, str(user_id), str(events)], env=child_env())


def child_activity(events: Path) -> dict[str, str] | None:
    """The last activity the child reported (None before the first report)."""
    try:
        return json.loads(events.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def wait_for(predicate: Callable[[], object], what: str, limit: float = 120.0) -> None:
    """Poll `predicate` until it is true (a hang guard, not a speed assumption)."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
