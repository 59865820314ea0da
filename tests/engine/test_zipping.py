"""Zipping a job folder that a hostile task left behind: no hang, no leak."""

from __future__ import annotations

import os
import socket
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from fractal_core.engine.zipping import scan_folder
from fractal_core.engine.zipping import zip_folder

HANG_GUARD = 30  # seconds; zipping these folders takes milliseconds


def _zip_guarded(folder: Path, threshold_mb: float = 1.0) -> Path | None:
    """zip_folder in a thread; fail (instead of hanging) if it does not finish."""
    result: list[Path | None] = []
    thread = threading.Thread(
        target=lambda: result.append(zip_folder(folder, threshold_mb=threshold_mb)),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=HANG_GUARD)
    assert not thread.is_alive(), "zip_folder did not finish"
    return result[0]


def _job_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "job"
    (folder / "sub").mkdir(parents=True)
    (folder / "workflow.log").write_text("log line\n")
    (folder / "sub" / "0_par_0000000-log.txt").write_bytes(b"\x00\x01binary")
    return folder


def _entries(zip_path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as zf:
        return {info.filename: info for info in zf.infolist()}


def _is_link_entry(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def test_regular_files_round_trip(tmp_path: Path) -> None:
    folder = _job_folder(tmp_path)
    zipped = _zip_guarded(folder)
    assert zipped == tmp_path / "job.zip"
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == ["sub/0_par_0000000-log.txt", "workflow.log"]
        assert zf.read("workflow.log") == b"log line\n"
        assert zf.read("sub/0_par_0000000-log.txt") == b"\x00\x01binary"
    assert folder.is_dir()  # small zip: folder kept
    assert not (tmp_path / "job_tmp.zip").exists()


def test_symlink_to_dev_zero_is_stored_as_link(tmp_path: Path) -> None:
    folder = _job_folder(tmp_path)
    (folder / "zero").symlink_to("/dev/zero")
    zipped = _zip_guarded(folder)
    assert zipped is not None
    entries = _entries(zipped)
    assert _is_link_entry(entries["zero"])
    with zipfile.ZipFile(zipped) as zf:
        assert zf.read("zero") == b"/dev/zero"


def test_symlink_to_outside_file_does_not_copy_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET CONTENT")
    folder = _job_folder(tmp_path)
    (folder / "sub" / "leak").symlink_to(secret)
    zipped = _zip_guarded(folder)
    assert zipped is not None
    with zipfile.ZipFile(zipped) as zf:
        contents = b"".join(zf.read(name) for name in zf.namelist())
        assert zf.read("sub/leak") == str(secret).encode()
    assert b"TOP SECRET" not in contents
    assert _is_link_entry(_entries(zipped)["sub/leak"])


def test_symlink_to_outside_folder_is_not_entered_nor_deleted(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    folder = _job_folder(tmp_path)
    (folder / "big.bin").write_bytes(os.urandom(2 * 1024**2))  # above threshold
    (folder / "dirlink").symlink_to(outside, target_is_directory=True)
    zipped = _zip_guarded(folder)
    assert zipped is not None
    names = set(_entries(zipped))
    assert "dirlink" in names
    assert not any(name.startswith("dirlink/") for name in names)
    assert not folder.exists()  # big and complete: removed...
    assert (outside / "precious.txt").read_text() == "keep me"  # ...not the target


def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    folder = _job_folder(tmp_path)
    os.mkfifo(folder / "sub" / "pipe")
    zipped = _zip_guarded(folder)
    assert zipped is not None
    assert set(_entries(zipped)) == {"workflow.log", "sub/0_par_0000000-log.txt"}


def test_socket_is_skipped(tmp_path: Path) -> None:
    folder = _job_folder(tmp_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(folder / "s.sock"))
        zipped = _zip_guarded(folder)
    finally:
        sock.close()
    assert zipped is not None
    assert "s.sock" not in _entries(zipped)
    assert scan_folder(folder).special == ["s.sock"]


def test_big_folder_with_fifo_is_removed_after_zipping(tmp_path: Path) -> None:
    """A skipped FIFO holds no content: it does not keep a complete folder alive."""
    folder = _job_folder(tmp_path)
    (folder / "big.bin").write_bytes(os.urandom(2 * 1024**2))
    os.mkfifo(folder / "pipe")
    zipped = _zip_guarded(folder)
    assert zipped is not None
    assert not folder.exists()
    with zipfile.ZipFile(zipped) as zf:
        assert len(zf.read("big.bin")) == 2 * 1024**2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file_keeps_the_folder(tmp_path: Path) -> None:
    folder = _job_folder(tmp_path)
    (folder / "big.bin").write_bytes(os.urandom(2 * 1024**2))
    locked = folder / "locked.txt"
    locked.write_text("x")
    locked.chmod(0)
    try:
        zipped = _zip_guarded(folder)
    finally:
        locked.chmod(0o600)
    assert zipped is not None
    assert folder.is_dir()
    assert "locked.txt" not in _entries(zipped)


def test_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    real = _job_folder(tmp_path)
    link = tmp_path / "linked_job"
    link.symlink_to(real, target_is_directory=True)
    assert _zip_guarded(link) is None
    assert not (tmp_path / "linked_job.zip").exists()
    assert real.is_dir()


def test_file_replaced_by_fifo_after_scan_is_skipped(tmp_path: Path) -> None:
    """The open re-checks the kind of file: a swap after the walk cannot block."""
    from fractal_core.engine import zipping

    folder = _job_folder(tmp_path)
    target = folder / "output.json"
    target.write_text("{}")
    entries = zipping.scan_folder(folder)
    target.unlink()
    os.mkfifo(target)
    result: list[set[str]] = []
    thread = threading.Thread(
        target=lambda: result.append(
            zipping._write_zip(folder, entries, tmp_path / "out.zip")
        ),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=HANG_GUARD)
    assert not thread.is_alive()
    assert result[0] == {"workflow.log", "sub/0_par_0000000-log.txt"}


def test_old_timestamps_are_clamped(tmp_path: Path) -> None:
    folder = _job_folder(tmp_path)
    os.utime(folder / "workflow.log", (0, 0))  # 1970: before zip's epoch
    zipped = _zip_guarded(folder)
    assert zipped is not None
    assert _entries(zipped)["workflow.log"].date_time[0] == 1980
