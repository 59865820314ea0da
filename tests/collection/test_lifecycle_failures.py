"""Lifecycle preconditions and failures (groups built by hand, real folders)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.collection import CollectionSettings
from fractal_core.collection import TaskGroupStateError
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import reactivate
from fractal_core.collection.lifecycle import direct_references_outside
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status


def _group(
    settings: CollectionSettings, origin: str = "pypi", **kw: object
) -> TaskGroup:
    path = kw.pop("path", f"{settings.base_dir}/1/pkg/1.0")
    fields = {
        "origin": origin,
        "pkg_name": "pkg",
        "version": "1.0",
        "python_version": settings.python.default_version,
        "path": path,
        "venv_path": f"{path}/venv",
        "env_info": "pkg==1.0\n",
        "user_id": 1,
    }
    fields.update(kw)
    return TaskGroup.model_validate(fields)


def test_delete_outside_base_refused(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("x")
    for path in (str(victim), settings.base_dir):
        group = _group(settings, path=path)
        with pytest.raises(TaskGroupStateError, match="not inside the base folder"):
            delete(group, settings=settings)
        with pytest.raises(TaskGroupStateError, match="not inside the base folder"):
            deactivate(group, settings=settings)
    assert (victim / "keep.txt").exists()


def test_delete_through_symlink_refused(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("x")
    link = Path(settings.base_dir) / "1" / "pkg" / "1.0"
    link.parent.mkdir(parents=True)
    link.symlink_to(victim)
    group = _group(settings)
    with pytest.raises(TaskGroupStateError, match="goes through a symlink"):
        delete(group, settings=settings)
    assert (victim / "keep.txt").exists() and link.is_symlink()


def test_delete_missing_folder_is_ok(settings: CollectionSettings) -> None:
    res = delete(_group(settings), settings=settings)
    assert res.ok and res.task_group is None
    assert "does not exist: nothing to remove" in res.activity.log


def test_other_origin_only_flips_the_flag(settings: CollectionSettings) -> None:
    group = TaskGroup(origin="other", pkg_name="My Label", version="1")
    res = deactivate(group, settings=settings)
    assert res.ok and group.active is False
    assert res.activity.timestamp_ended is not None
    assert "origin='other'" in res.activity.log
    res = reactivate(group, settings=settings)
    assert res.ok and group.active is True
    assert delete(group, settings=settings).ok


def test_state_errors(settings: CollectionSettings) -> None:
    group = _group(settings)
    with pytest.raises(TaskGroupStateError, match="active=True"):
        reactivate(group, settings=settings)
    group.active = False
    group.env_info = None
    with pytest.raises(TaskGroupStateError, match="env_info=None"):
        reactivate(group, settings=settings)
    with pytest.raises(TaskGroupStateError, match="active=False"):
        deactivate(group, settings=settings)


def test_failed_deactivation_leaves_group_active(settings: CollectionSettings) -> None:
    """FOLLOW 8.7: missing venv -> failed activity, group still active."""
    group = _group(settings)
    Path(group.path).mkdir(parents=True)
    res = deactivate(group, settings=settings)
    assert res.activity.status == Status.FAILED
    assert f"{group.venv_path} does not exist" in res.activity.log
    assert group.active is True


def test_direct_url_dependency_blocks_deactivation(
    settings: CollectionSettings,
) -> None:
    group = _group(settings, env_info="pkg==1.0\nx @ git+https://github.com/a/b@main\n")
    Path(group.venv_path).mkdir(parents=True)
    res = deactivate(group, settings=settings)
    assert res.activity.status == Status.FAILED
    assert (
        "github.com" in res.activity.log
        and "not currently supported" in res.activity.log
    )
    assert group.active is True
    assert Path(group.venv_path).exists()


def test_wheel_group_without_archive_fails(settings: CollectionSettings) -> None:
    group = _group(
        settings, origin="wheel-file", archive_path="/nowhere/pkg-1.0-py3-none-any.whl"
    )
    Path(group.venv_path).mkdir(parents=True)
    res = deactivate(group, settings=settings)
    assert res.activity.status == Status.FAILED
    assert "unset or does not exist" in res.activity.log
    assert group.active is True


def test_old_layout_wheel_is_copied_and_freeze_rewritten(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """Weak point 6: the frozen requirements really point to the copied wheel."""
    old = tmp_path / "elsewhere" / "pkg-1.0-py3-none-any.whl"
    old.parent.mkdir()
    old.write_bytes(b"wheel")
    group = _group(
        settings,
        origin="wheel-file",
        archive_path=str(old),
        env_info=f"pkg @ file://{old}\nother==2.0\n",
    )
    Path(group.venv_path).mkdir(parents=True)
    res = deactivate(group, settings=settings)
    assert res.ok, res.activity.log
    new = f"{group.path}/{old.name}"
    assert group.archive_path == new and Path(new).read_bytes() == b"wheel"
    assert f"pkg @ file://{new}" in group.env_info and str(old) not in group.env_info
    assert not Path(group.venv_path).exists()
    assert group.active is False


def test_missing_freeze_is_recreated(settings: CollectionSettings) -> None:
    """A group without env_info gets it from `pip freeze` before removal."""
    group = _group(settings, env_info=None)
    bin_dir = Path(group.venv_path) / "bin"
    bin_dir.mkdir(parents=True)
    # Stand-in venv: its python is this interpreter (enough for `pip freeze`).
    os.symlink(sys.executable, bin_dir / "python")
    res = deactivate(group, settings=settings)
    assert res.ok, res.activity.log
    assert "Recreate pip-freeze information" in res.activity.log
    assert "pytest==" in group.env_info
    assert Path(group.path, "pip_freeze.txt").read_text() == group.env_info


def test_failed_reactivation_removes_venv(settings: CollectionSettings) -> None:
    group = _group(settings, env_info="pip==99.99.99\n")
    Path(group.path).mkdir(parents=True)
    group.active = False
    res = reactivate(group, settings=settings)
    assert res.activity.status == Status.FAILED
    assert "pip==99.99.99" in res.activity.log
    assert not Path(group.venv_path).exists()
    assert group.active is False


@given(
    st.lists(
        st.sampled_from(
            [
                "a==1.0",
                "b @ file:///base/1/pkg/1.0/b-1.0-py3-none-any.whl",
                "c @ file:///elsewhere/c-1.0-py3-none-any.whl",
                "d @ git+https://github.com/x/d@main",
                "e @ file:///base/1/pkg/1.0/../../evil.whl",
                "f @ https://example.org/f.whl",
            ]
        ),
        max_size=6,
    )
)
def test_direct_references_outside(lines: list[str]) -> None:
    bad = direct_references_outside("\n".join(lines), "/base/1/pkg/1.0")
    expected = [ln for ln in lines if " @ " in ln and not ln.startswith("b @")]
    assert bad == expected
