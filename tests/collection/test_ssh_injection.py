"""Shell metacharacters in names, paths and packages never run on the remote side.

Every input below carries a payload that would create a canary file if any
shell on the remote host evaluated it (`;`, `$(...)`, backticks, quotes,
newlines, spaces, pipes). Each one is either refused by validation (the
library's exception, naming the field) or reaches the remote side as a
literal string; afterwards no canary exists anywhere on the remote side.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from fractal_core.collection import CollectionSettings
from fractal_core.collection import InvalidCollectionRequest
from fractal_core.collection import collect_custom
from fractal_core.collection import collect_pypi
from fractal_core.collection import collect_wheel
from fractal_core.collection import delete
from fractal_core.collection import find_task_groups
from fractal_core.collection import recover_stale_folders
from fractal_core.collection.host_lock import HostLock
from fractal_core.collection.ownership import kill_host_token_processes
from fractal_core.hosts import HostError
from fractal_core.hosts import SSHHost
from fractal_core.manifest.errors import ManifestError
from tests.ssh import sshd as _sshd

from .helpers import TASK_SCRIPT
from .helpers import manifest
from .ssh_fixtures import REMOTE_PYTHON
from .ssh_fixtures import remote_fixture  # noqa: F401  (fixture)
from .ssh_fixtures import remote_settings_fixture  # noqa: F401  (fixture)

CANARY = f"fractal_canary_{uuid.uuid4().hex}"
TEMPLATES = [
    "; touch {c}",
    "$(touch {c})",
    "`touch {c}`",
    "'; touch {c}; '",
    '"; touch {c}; "',
    "\ntouch {c}\n",
    "a b && touch {c}",
    "| touch {c} #",
]
PAYLOADS = [t.format(c=CANARY) for t in TEMPLATES]  # no '/': valid in file names
ABS_PAYLOADS = [t.format(c=f"/tmp/{CANARY}") for t in TEMPLATES]


def _no_canary(remote: SSHHost, *folders: str) -> None:
    """No file named like the canary anywhere the payloads could have made one."""
    where = ["/tmp", "/home/fractal_user", *folders]
    res = remote.run(["find", *where, "-name", f"{CANARY}*"])
    assert res.stdout == "", res.stdout


@pytest.mark.parametrize("payload", ABS_PAYLOADS + PAYLOADS)
def test_request_fields_with_metacharacters_are_refused(
    remote: SSHHost, remote_settings: CollectionSettings, payload: str
) -> None:
    settings = remote_settings
    calls = [
        dict(package=payload),
        dict(package="fractal-tasks-testkit", version=payload),
        dict(package="fractal-tasks-testkit", version="0.1.0", extras=payload),
        dict(package="fractal-tasks-testkit", version="0.1.0",
             pinned_package_versions_pre={payload: "1.0"}),
        dict(package="fractal-tasks-testkit", version="0.1.0",
             pinned_package_versions_post={"numpy": payload}),
    ]  # fmt: skip
    for kwargs in calls:
        with pytest.raises(InvalidCollectionRequest, match="Invalid "):
            collect_pypi(settings=settings, host=remote, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(HostError, match="Invalid SSH user name"):
        SSHHost("127.0.0.1", payload, key_path="/nonexistent")
    with pytest.raises(ValidationError, match="base_dir"):
        CollectionSettings(base_dir=f"/tmp/{payload}", python=settings.python)
    assert kill_host_token_processes(remote, payload) == []
    _no_canary(remote, settings.base_dir)


def test_wheel_names_and_local_paths_with_metacharacters(
    remote: SSHHost,
    remote_settings: CollectionSettings,
    testkit_wheel: Path,
    tmp_path: Path,
) -> None:
    for payload in PAYLOADS:
        bad = tmp_path / f"fractal_tasks_testkit-0.1.0{payload}-py3-none-any.whl"
        shutil.copy(testkit_wheel, bad)
        with pytest.raises(InvalidCollectionRequest, match="wheel"):
            collect_wheel(bad, settings=remote_settings, host=remote)
    # A local folder full of metacharacters only matters to SFTP: collected.
    odd = tmp_path.joinpath(*PAYLOADS)
    odd.mkdir(parents=True)
    wheel = odd / testkit_wheel.name
    shutil.copy(testkit_wheel, wheel)
    res = collect_wheel(
        wheel, settings=remote_settings, host=remote, user_id=1, extras=None
    )
    assert res.ok, res.activity.log
    _no_canary(remote, remote_settings.base_dir)


def test_custom_labels_and_folders_with_metacharacters(
    remote: SSHHost, remote_settings: CollectionSettings
) -> None:
    settings = remote_settings
    clean = f"{settings.base_dir}/roots/clean"
    remote.mkdir(clean)
    remote.write_text(f"{clean}/t1.py", TASK_SCRIPT)
    common = dict(version="1.0", host=remote, check_files=True, settings=settings)
    for i, payload in enumerate(PAYLOADS):
        # A label only names a record folder (SFTP): kept literally.
        group = collect_custom(
            manifest("t1"), python_interpreter=REMOTE_PYTHON, label=f"L {payload}",
            package_root=clean, user_id=i, **common,  # type: ignore[arg-type]
        )  # fmt: skip
        assert group.pkg_name == f"L {payload}".strip()
        # A package root would end up in task commands: refused, naming it.
        root = f"{settings.base_dir}/roots/{payload}"
        remote.mkdir(root)
        remote.write_text(f"{root}/t1.py", TASK_SCRIPT)
        with pytest.raises((ManifestError, InvalidCollectionRequest)) as e:
            collect_custom(
                manifest("t1"), python_interpreter=REMOTE_PYTHON, label="x",
                package_root=root, user_id=i, **common,  # type: ignore[arg-type]
            )  # fmt: skip
        assert "must not contain" in str(e.value) or "package_root=" in str(e.value)
        with pytest.raises(InvalidCollectionRequest, match="python_interpreter"):
            collect_custom(
                manifest("t1"), python_interpreter=f"{root}/python", label="x",
                package_root=clean, user_id=i, **common,  # type: ignore[arg-type]
            )  # fmt: skip
    found = find_task_groups(settings, host=remote)
    assert sorted(g.pkg_name for g in found) == sorted(
        f"L {p}".strip() for p in PAYLOADS
    )
    for group in found:
        res = delete(group, settings=settings, host=remote)
        assert res.ok, res.activity.log
    assert find_task_groups(settings, host=remote) == []
    _no_canary(remote, settings.base_dir)


def test_lock_and_recovery_paths_with_metacharacters(
    remote: SSHHost, remote_settings: CollectionSettings, sshd: _sshd.SSHServer
) -> None:
    base = remote_settings.base_dir
    for payload in PAYLOADS:
        target = f"{base}/9/{payload}/1.0"
        with HostLock(remote, target, timeout=0) as lock:
            assert remote.is_file(f"{lock}/owner.json")
        assert not remote.exists(f"{target}.lock")
        # An owner record with a hostile name and content is ignored.
        remote.write_text(f"{target}.owner.json", payload)
    assert recover_stale_folders(remote_settings, host=remote) == []
    _no_canary(remote, base)
