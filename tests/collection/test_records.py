"""Task-group records: a collected group is found again from its folder, no database.

One tiny wheel is collected once for the module (a real venv, real pip) and
shared; tests that change it put it back as they found it. The lifecycle test
runs last in this file.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.collection import CollectionSettings
from fractal_core.collection import InvalidCollectionRequest
from fractal_core.collection import TaskGroupEnvironmentMissing
from fractal_core.collection import TaskGroupPathExists
from fractal_core.collection import TaskGroupRecordError
from fractal_core.collection import collect_custom
from fractal_core.collection import collect_wheel
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import find_task_groups
from fractal_core.collection import load_task_group
from fractal_core.collection import reactivate
from fractal_core.collection.ownership import claim
from fractal_core.collection.records import RECORD_FILENAME
from fractal_core.collection.records import mask_credentials
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupOrigin
from fractal_core.hosts import LocalHost

from .helpers import make_wheel
from .helpers import manifest

USER = 3
_VOLATILE = {"timestamp_created", "timestamp_last_used"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def settings(base: Path) -> CollectionSettings:
    return CollectionSettings.for_current_python(str(base / "tasks"), upgrade_pip=False)


@pytest.fixture(scope="module")
def wheel(base: Path) -> Path:
    return make_wheel(base / "wheels", manifest_data=manifest("t1", "t2"))


@pytest.fixture(scope="module")
def group(settings: CollectionSettings, wheel: Path) -> TaskGroup:
    res = collect_wheel(wheel, settings=settings, user_id=USER)
    assert res.ok, res.activity.log
    assert res.task_group is not None
    return res.task_group


@pytest.fixture
def folder(group: TaskGroup) -> Path:
    return Path(str(group.path))


@pytest.fixture
def hidden_record(folder: Path) -> Iterator[Path]:
    """The shared group's record moved away for one test, then put back."""
    record = folder / RECORD_FILENAME
    aside = folder.parent / "record.aside"
    record.rename(aside)
    try:
        yield record
    finally:
        aside.rename(record)


def _record(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / RECORD_FILENAME).read_text())
    return data


def _write_record(folder: Path, data: dict[str, Any] | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else json.dumps(data)
    (folder / RECORD_FILENAME).write_text(text)
    return folder


def _inactive_group(settings: CollectionSettings, pkg: str, version: str) -> Path:
    """A hand-written record of a deactivated group (no environment needed)."""
    folder = Path(settings.base_dir) / pkg / version
    tg = TaskGroup(
        origin=TaskGroupOrigin.PYPI,
        pkg_name=pkg,
        version=version,
        python_version="3.11",
        path=str(folder),
        venv_path=str(folder / "venv"),
        env_info=f"{pkg}=={version}\n",
        active=False,
    )
    record = {
        "record_version": 1,
        "written_by": "test",
        "task_group": tg.model_dump(mode="json"),
    }
    return _write_record(folder, record)


# --- written and read back -----------------------------------------------


def test_record_written_at_collection_round_trips(
    group: TaskGroup, folder: Path, settings: CollectionSettings
) -> None:
    data = _record(folder)
    assert data["record_version"] == 1 and data["written_by"].startswith("fractal_core")
    assert data["task_group"]["path"] == str(folder)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    loaded = load_task_group(folder, settings=settings)
    assert loaded == group
    assert [t.command_non_parallel for t in loaded.task_list] == [
        t.command_non_parallel for t in group.task_list
    ]
    assert {t.version for t in loaded.task_list} == {"1.0.0"}
    assert all(t.task_group is loaded for t in loaded.task_list)
    # The record file itself may be given, and no settings at all.
    assert load_task_group(str(folder / RECORD_FILENAME)) == group


def test_load_refuses_paths_outside_or_malformed(
    folder: Path, settings: CollectionSettings, tmp_path: Path
) -> None:
    other = CollectionSettings.for_current_python(str(tmp_path / "elsewhere"))
    with pytest.raises(InvalidCollectionRequest, match="not inside the base folder"):
        load_task_group(folder, settings=other)
    with pytest.raises(InvalidCollectionRequest, match="absolute"):
        load_task_group("relative/folder")
    with pytest.raises(InvalidCollectionRequest, match=r"'\.\.'"):
        load_task_group(f"{folder}/../{folder.name}")
    link = Path(settings.base_dir) / "link"
    link.symlink_to(tmp_path)
    try:
        with pytest.raises(InvalidCollectionRequest, match="resolves to"):
            load_task_group(link / "x", settings=settings)
    finally:
        link.unlink()
    with pytest.raises(TaskGroupRecordError, match="does not exist"):
        load_task_group(tmp_path / "missing")


def test_load_without_record_rebuilds_from_the_manifest(
    group: TaskGroup,
    folder: Path,
    settings: CollectionSettings,
    hidden_record: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="fractal_core.collection"):
        rebuilt = load_task_group(folder, settings=settings)
    assert not hidden_record.exists()  # loading writes nothing
    assert rebuilt.model_dump(exclude=_VOLATILE) == group.model_dump(exclude=_VOLATILE)
    assert rebuilt.origin == TaskGroupOrigin.WHEELFILE and rebuilt.user_id == USER
    assert any(
        "rebuilt the task group from the installed manifest" in r.message
        and str(folder) in r.message
        for r in caplog.records
    )
    # Without settings the numeric owner folder still gives the user id.
    assert load_task_group(folder).user_id == USER


def test_collecting_a_folder_without_record_is_refused(
    folder: Path, settings: CollectionSettings, wheel: Path, hidden_record: Path
) -> None:
    with pytest.raises(TaskGroupPathExists, match="cannot be reused: .*has no"):
        collect_wheel(wheel, settings=settings, user_id=USER)


# --- corrupt or stale records --------------------------------------------


def _corrupt(valid: dict[str, Any], how: str) -> dict[str, Any] | str:
    data = json.loads(json.dumps(valid))
    if how == "not json":
        return '{"record_version": 1, "task_group": '
    if how == "nan":
        return '{"record_version": NaN}'
    if how == "list":
        return "[]"
    if how == "no task_group":
        del data["task_group"]
    elif how == "bad origin":
        data["task_group"]["origin"] = "ftp"
    elif how == "bad version":
        data["record_version"] = 99
    elif how == "bad task":
        data["task_group"]["task_list"][0]["command_non_parallel"] = "rm -rf / ;"
    elif how == "duplicate task":
        data["task_group"]["task_list"].append(data["task_group"]["task_list"][0])
    elif how == "extra key":
        data["token"] = "x"
    return data


@pytest.mark.parametrize(
    ("how", "field"),
    [
        ("not json", "not valid JSON"),
        ("nan", "not valid JSON"),
        ("list", "must hold a JSON object"),
        ("no task_group", "field task_group"),
        ("bad origin", "field task_group.origin"),
        ("bad version", "field record_version"),
        ("bad task", "field task_group.task_list.0"),
        ("duplicate task", "t1"),
        ("extra key", "field token"),
    ],
)
def test_corrupt_record_names_file_and_field(
    folder: Path, tmp_path: Path, how: str, field: str
) -> None:
    target = _write_record(tmp_path / "pkg" / "1.0", _corrupt(_record(folder), how))
    with pytest.raises(TaskGroupRecordError, match=field) as info:
        load_task_group(target)
    assert str(target / RECORD_FILENAME) in str(info.value)


def test_moved_record_and_missing_environment(folder: Path, tmp_path: Path) -> None:
    data = _record(folder)
    moved = _write_record(tmp_path / "moved" / "1.0.0", data)
    with pytest.raises(TaskGroupRecordError, match="field task_group.path"):
        load_task_group(moved)
    gone = tmp_path / "gone" / "1.0.0"
    data["task_group"].update(path=str(gone), venv_path=str(gone / "venv"))
    _write_record(gone, data)
    with pytest.raises(TaskGroupEnvironmentMissing, match=f"{gone}/venv/bin/python"):
        load_task_group(gone)


# --- listing ---------------------------------------------------------------


def test_find_task_groups_lists_records_sorted_and_skips_the_rest(
    group: TaskGroup,
    settings: CollectionSettings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = Path(settings.base_dir)
    made = [_inactive_group(settings, "zeta", v) for v in ("1.10.0", "1.9.0")]
    made.append(_inactive_group(settings, "alpha", "2.0"))
    half = _inactive_group(settings, "half-built", "1.0")
    claim(LocalHost(), str(half), "0" * 32, str(half))  # a live owner: being built
    broken = _write_record(base / "broken" / "1.0", "{")
    root = tmp_path / "pkg"
    (root / "t1.py").parent.mkdir(parents=True)
    (root / "t1.py").write_text("")
    custom = collect_custom(
        manifest("t1"),
        python_interpreter=sys.executable,
        label="My env",
        version="0.1",
        package_root=str(root),
        user_id=USER,
        settings=settings,
    )
    try:
        with caplog.at_level(logging.WARNING, logger="fractal_core.collection"):
            found = find_task_groups(settings)
        keys = [(g.pkg_name, g.version) for g in found]
        assert keys == [
            ("My env", "0.1"),
            ("alpha", "2.0"),
            (group.pkg_name, group.version),
            ("zeta", "1.9.0"),
            ("zeta", "1.10.0"),
        ]
        assert found[0] == custom and found[2] == group
        assert any(str(broken) in r.message for r in caplog.records)
    finally:
        for path in [*made, half, broken, base / str(USER) / "_custom"]:
            shutil.rmtree(path)
        Path(f"{half}.owner.json").unlink()
    assert find_task_groups(settings) == [group]


def test_custom_group_record_follows_its_lifecycle(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    (tmp_path / "t1.py").write_text("")
    custom = collect_custom(
        manifest("t1"),
        python_interpreter=sys.executable,
        label="scratch",
        version="1",
        package_root=str(tmp_path),
        settings=settings,
    )
    record_dir = Path(settings.base_dir) / "_custom" / "scratch" / "1"
    assert load_task_group(record_dir, settings=settings) == custom
    assert deactivate(custom, settings=settings).ok
    assert _record(record_dir)["task_group"]["active"] is False
    assert delete(custom, settings=settings).ok
    assert not record_dir.exists()


# --- credentials -----------------------------------------------------------


@given(
    user=st.text(alphabet="abcdefghijklmnop0123456789_", min_size=1, max_size=12),
    secret=st.text(alphabet="QRSTUVWXYZ0123456789-.~", min_size=1, max_size=20),
)
def test_credentials_in_urls_are_masked(user: str, secret: str) -> None:
    line = f"pkg @ git+https://{user}:{secret}@example.org/pkg.git\nother==1\n"
    masked = mask_credentials(line)
    assert f"{user}:{secret}" not in masked
    assert masked == "pkg @ git+https://***@example.org/pkg.git\nother==1\n"


# --- reuse and lifecycle (last: they change the shared group) -------------


def test_recollecting_reuses_and_error_mode_refuses(
    group: TaskGroup, folder: Path, settings: CollectionSettings, wheel: Path
) -> None:
    res = collect_wheel(wheel, settings=settings, user_id=USER)
    assert res.ok and res.task_group == group
    assert f"already collected at {folder}" in str(res.activity.log)
    assert "create venv" not in str(res.activity.log)
    with pytest.raises(TaskGroupPathExists, match=f"{folder} already exists"):
        collect_wheel(wheel, settings=settings, user_id=USER, if_exists="error")
    with pytest.raises(InvalidCollectionRequest, match="if_exists"):
        collect_wheel(wheel, settings=settings, if_exists="overwrite")  # type: ignore[arg-type]


def test_deactivate_and_reactivate_update_the_record(
    group: TaskGroup, folder: Path, settings: CollectionSettings, wheel: Path
) -> None:
    assert deactivate(group, settings=settings).ok
    assert _record(folder)["task_group"]["active"] is False
    loaded = load_task_group(folder, settings=settings)
    assert loaded.active is False and loaded == group
    res = collect_wheel(wheel, settings=settings, user_id=USER)
    assert res.ok and "inactive" in str(res.activity.log)
    res = reactivate(group, settings=settings)
    assert res.ok, res.activity.log
    assert _record(folder)["task_group"]["active"] is True
    assert load_task_group(folder, settings=settings) == group
