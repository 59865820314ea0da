"""The atomic, locked build-once cache behind the cached venvs (no network)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from realtasks_support import COMPLETE_MARKER
from realtasks_support import cached_folder


def _writer(calls: list[Path]):  # type: ignore[no-untyped-def]
    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "payload.txt").write_text("built")

    return build


def test_built_once_then_reused(tmp_path: Path) -> None:
    calls: list[Path] = []
    first = cached_folder(tmp_path, "thing-1.0", _writer(calls))
    second = cached_folder(tmp_path, "thing-1.0", _writer(calls))
    assert first == second == tmp_path / "thing-1.0"
    assert len(calls) == 1
    assert calls[0] != first  # built elsewhere, then renamed
    assert (first / "payload.txt").read_text() == "built"
    assert (first / COMPLETE_MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "thing-1.0",
        "thing-1.0.lock",
    ]


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def broken(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise RuntimeError("install failed")

    with pytest.raises(RuntimeError, match="install failed"):
        cached_folder(tmp_path, "thing-2.0", broken)
    assert [p.name for p in tmp_path.iterdir()] == ["thing-2.0.lock"]
    calls: list[Path] = []
    cached_folder(tmp_path, "thing-2.0", _writer(calls))
    assert len(calls) == 1


def test_incomplete_leftover_is_replaced(tmp_path: Path) -> None:
    leftover = tmp_path / "thing-3.0"
    leftover.mkdir()
    (leftover / "stale.txt").write_text("old")
    calls: list[Path] = []
    target = cached_folder(tmp_path, "thing-3.0", _writer(calls))
    assert len(calls) == 1
    assert not (target / "stale.txt").exists()
    assert (target / "payload.txt").exists()


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    counter = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    cache.mkdir()
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from realtasks_support import cached_folder

        def build(tmp):
            with open({str(counter)!r}, "a") as f:
                f.write("build\\n")
            time.sleep(0.5)
            (tmp / "payload.txt").write_text("built")

        print(cached_folder(Path({str(cache)!r}), "shared-1.0", build))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    assert outputs == [str(cache / "shared-1.0")] * 3
    assert counter.read_text() == "build\n"
