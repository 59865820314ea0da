"""`delete` removes only the group's own folder, as collection would compute it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import TaskGroupStateError
from fractal_core.collection import delete
from fractal_core.domain.task_group import TaskGroup


def _group(path: str, **kw: object) -> TaskGroup:
    fields: dict[str, object] = {
        "origin": "pypi",
        "pkg_name": "pkg",
        "version": "1.0",
        "user_id": 1,
        "path": path,
        "venv_path": f"{path}/venv",
    }
    fields.update(kw)
    return TaskGroup.model_validate(fields)


@pytest.fixture
def tree(settings: CollectionSettings, tmp_path: Path) -> dict[str, Path]:
    """Two groups of user 1, one of user 2, and a folder outside the base."""
    base = Path(settings.base_dir)
    folders = {
        "own": base / "1" / "pkg" / "1.0",
        "sibling": base / "1" / "other" / "2.0",
        "other_version": base / "1" / "pkg" / "2.0",
        "other_user": base / "2" / "pkg" / "1.0",
        "outside": tmp_path / "outside" / "pkg" / "1.0",
    }
    for folder in folders.values():
        (folder / "venv").mkdir(parents=True)
        (folder / "keep.txt").write_text("x")
    return folders


def _all_kept(tree: dict[str, Path]) -> bool:
    return all((f / "keep.txt").exists() for f in tree.values())


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("{base}", "not inside the base folder"),
        ("{base}/1", "not the group's own folder"),
        ("{base}/1/pkg", "not the group's own folder"),
        ("{base}/1/other/2.0", "not the group's own folder"),
        ("{base}/1/pkg/2.0", "not the group's own folder"),
        ("{base}/2/pkg/1.0", "not the group's own folder"),
        ("{base}/1/pkg/1.0/venv", "not the group's own folder"),
        ("{outside}", "not inside the base folder"),
    ],
)
def test_delete_refuses_a_path_that_is_not_the_groups_own_folder(
    settings: CollectionSettings,
    tree: dict[str, Path],
    path: str,
    fragment: str,
) -> None:
    given = path.format(base=settings.base_dir, outside=tree["outside"])
    with pytest.raises(TaskGroupStateError, match=fragment) as info:
        delete(_group(given), settings=settings)
    assert repr(given) in str(info.value)
    assert _all_kept(tree)


def test_delete_refuses_a_symlinked_own_folder(
    settings: CollectionSettings, tree: dict[str, Path]
) -> None:
    """The own folder's name, but a symlink to the user-2 group: refused."""
    own = tree["own"]
    moved = own.with_name("1.0-real")
    own.rename(moved)
    own.symlink_to(tree["other_user"])
    with pytest.raises(TaskGroupStateError, match="goes through a symlink"):
        delete(_group(str(own)), settings=settings)
    assert _all_kept({**tree, "own": moved})


def test_delete_refuses_a_symlinked_parent(
    settings: CollectionSettings, tree: dict[str, Path]
) -> None:
    """`<base>/3` is a symlink to user 2's folder: `<base>/3/pkg/1.0` is refused."""
    (Path(settings.base_dir) / "3").symlink_to(Path(settings.base_dir) / "2")
    path = f"{settings.base_dir}/3/pkg/1.0"
    with pytest.raises(TaskGroupStateError, match="goes through a symlink"):
        delete(_group(path, user_id=3), settings=settings)
    assert _all_kept(tree)


def test_delete_accepts_the_own_folder(
    settings: CollectionSettings, tree: dict[str, Path]
) -> None:
    res = delete(_group(str(tree["own"])), settings=settings)
    assert res.ok and not tree["own"].exists()
    rest = {k: v for k, v in tree.items() if k != "own"}
    assert _all_kept(rest)


def test_delete_accepts_a_group_without_user(
    settings: CollectionSettings, tmp_path: Path
) -> None:
    """No user level; the group model stores the canonical name `my-pkg`."""
    folder = Path(settings.base_dir) / "my-pkg" / "1.0"
    folder.mkdir(parents=True)
    group = _group(str(folder), user_id=None, pkg_name="My_Pkg")
    assert delete(group, settings=settings).ok
    assert not folder.exists()
