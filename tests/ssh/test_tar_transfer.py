"""The tar helpers behind put_many/get_many, and the fallback for any host (local)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.hosts import HostError
from fractal_core.hosts import LocalHost
from fractal_core.hosts import UnsafePathError
from fractal_core.hosts._tar_transfer import check_member_names
from fractal_core.hosts._tar_transfer import extract_tar
from fractal_core.hosts._tar_transfer import pack_tar
from fractal_core.hosts._tar_transfer import transfer_from_host
from fractal_core.hosts._tar_transfer import transfer_to_host

SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\0"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))


@given(st.lists(st.lists(SEGMENT, min_size=1, max_size=3), max_size=5))
def test_relative_names_without_dotdot_are_accepted(parts: list[list[str]]) -> None:
    names = ["/".join(p) for p in parts]
    assert check_member_names(names) == names


@given(st.lists(SEGMENT, max_size=3), st.lists(SEGMENT, max_size=3))
def test_names_with_dotdot_or_absolute_are_refused(
    before: list[str], after: list[str]
) -> None:
    with pytest.raises(UnsafePathError, match="Refusing transfer"):
        check_member_names(["/".join([*before, "..", *after])])
    with pytest.raises(UnsafePathError, match="Refusing transfer"):
        check_member_names(["/" + "/".join([*before, "x"])])


def test_pack_and_extract_round_trip(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    names = [f"d{i % 3}/f{i}.txt" for i in range(30)]
    for name in names:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(name * 3)
    extract_tar(io.BytesIO(pack_tar(str(src), names)), str(dst), names)
    assert {n: (dst / n).read_text() for n in names} == {n: n * 3 for n in names}


def _archive(add: list[tarfile.TarInfo]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in add:
            data = b"x" * info.size
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buf.seek(0)
    return buf


def test_foreign_archive_members_are_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("a")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    escape = tarfile.TarInfo("../outside")
    escape.size = 1
    extra = tarfile.TarInfo("not-asked")
    extra.size = 1
    folder = tarfile.TarInfo("../up")
    folder.type = tarfile.DIRTYPE
    for member in (link, escape, extra, folder):
        with pytest.raises(UnsafePathError, match="Refusing archive member"):
            extract_tar(_archive([member]), str(tmp_path / "dst"), ["a"])
    assert not (tmp_path / "outside").exists() and not (tmp_path / "up").exists()
    with pytest.raises(HostError, match="missing from the archive"):
        extract_tar(_archive([]), str(tmp_path / "dst"), ["a"])


def test_pack_refuses_symlinks(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/etc/passwd")
    with pytest.raises(HostError, match="not a regular file"):
        pack_tar(str(tmp_path), ["link"])


def test_fallback_copies_file_by_file_on_a_host_without_bulk_methods(
    tmp_path: Path,
) -> None:
    host = LocalHost()
    assert not hasattr(host, "put_many")
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "x").write_text("x")
    (src / "y").write_text("y")
    transfer_to_host(host, str(src), str(tmp_path / "remote"), ["a/x", "y"])
    transfer_from_host(host, str(tmp_path / "remote"), str(tmp_path / "back"), ["a/x"])
    assert (tmp_path / "remote" / "a" / "x").read_text() == "x"
    assert (tmp_path / "remote" / "y").read_text() == "y"
    assert (tmp_path / "back" / "a" / "x").read_text() == "x"
    with pytest.raises(UnsafePathError):
        transfer_to_host(host, str(src), str(tmp_path / "remote"), ["../y"])
