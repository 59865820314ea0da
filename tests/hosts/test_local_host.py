"""LocalHost: real subprocesses and real files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.hosts import CommandFailedError
from fractal_core.hosts import CommandTimeoutError
from fractal_core.hosts import Host
from fractal_core.hosts import HostError
from fractal_core.hosts import LocalHost
from fractal_core.hosts import UnsafePathError
from fractal_core.hosts import is_strictly_inside


def test_local_host_is_a_host() -> None:
    assert isinstance(LocalHost(), Host)


def test_run_returns_code_and_both_streams(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    res = LocalHost().run([sys.executable, "-c", code], cwd=str(tmp_path))
    assert res.returncode == 3
    assert res.stdout == "out\n"
    assert res.stderr == "err\n"
    assert not res.ok
    with pytest.raises(CommandFailedError, match="exit code 3"):
        res.check()


def test_run_never_uses_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    arg = f"x; touch {marker}"
    res = LocalHost().run(["echo", arg])
    assert res.stdout.strip() == arg
    assert not marker.exists()


def test_run_env_and_cwd(tmp_path: Path) -> None:
    code = "import os; print(os.environ['FRACTAL_X'], os.getcwd())"
    res = LocalHost().run(
        [sys.executable, "-c", code], env={"FRACTAL_X": "42"}, cwd=str(tmp_path)
    )
    assert res.stdout.split() == ["42", os.path.realpath(tmp_path)]


def test_run_streams_output_while_running(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    code = (
        "import os, time\n"
        "print('first', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)\n"
        "print('second', flush=True)\n"
    )
    seen: list[str] = []

    def on_output(line: str) -> None:
        seen.append(line)
        if line == "first":
            # The command is still blocked: we saw its first line before it ended.
            gate.touch()

    res = LocalHost().run([sys.executable, "-c", code], on_output=on_output)
    assert seen == ["first", "second"]
    assert res.ok


def test_run_timeout_kills(tmp_path: Path) -> None:
    with pytest.raises(CommandTimeoutError, match="timed out"):
        LocalHost().run(
            [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5
        )


def test_run_missing_executable() -> None:
    with pytest.raises(HostError, match="Cannot run"):
        LocalHost().run(["/nonexistent/bin/xyz"])


def test_file_operations(tmp_path: Path) -> None:
    host = LocalHost()
    folder = tmp_path / "a" / "b"
    host.mkdir(str(folder))
    assert host.is_dir(str(folder))
    host.write_text(str(folder / "f.txt"), "héllo")
    assert host.read_text(str(folder / "f.txt")) == "héllo"
    assert host.is_file(str(folder / "f.txt"))
    host.put(str(folder / "f.txt"), str(tmp_path / "g.txt"))
    host.get(str(tmp_path / "g.txt"), str(tmp_path / "h.txt"))
    assert (tmp_path / "h.txt").read_text() == "héllo"
    with pytest.raises(HostError, match="Cannot read"):
        host.read_text(str(tmp_path / "missing"))


def test_remove_tree_inside_base(tmp_path: Path) -> None:
    host = LocalHost()
    target = tmp_path / "base" / "pkg" / "1.0"
    (target / "venv").mkdir(parents=True)
    (target / "venv" / "x").write_text("x")
    host.remove_tree(str(target), base=str(tmp_path / "base"))
    assert not target.exists()
    assert (tmp_path / "base" / "pkg").exists()


@pytest.mark.parametrize(
    "rel",
    ["base", "outside", "base/../outside", "base/pkg/../../outside"],
)
def test_remove_tree_refuses_outside_or_equal(tmp_path: Path, rel: str) -> None:
    (tmp_path / "base" / "pkg").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    with pytest.raises(UnsafePathError, match="Refusing removal"):
        LocalHost().remove_tree(f"{tmp_path}/{rel}", base=str(tmp_path / "base"))
    assert (tmp_path / "outside").exists()
    assert (tmp_path / "base").exists()


def test_remove_tree_refuses_symlink_escape(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    (tmp_path / "base" / "link").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="resolves to"):
        LocalHost().remove_tree(
            str(tmp_path / "base" / "link"), base=str(tmp_path / "base")
        )
    assert (victim / "keep").exists()


def test_remove_tree_refuses_relative(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="not absolute"):
        LocalHost().remove_tree("relative/dir", base=str(tmp_path))


def test_remove_tree_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(HostError, match="No such file or directory"):
        LocalHost().remove_tree(str(tmp_path / "nope"), base=str(tmp_path))


segment = st.text(alphabet="abc.", min_size=1, max_size=4)


@given(st.lists(segment, min_size=1, max_size=5), st.lists(segment, max_size=3))
def test_is_strictly_inside_matches_pathlib(
    base_parts: list[str], rest: list[str]
) -> None:
    base = "/" + "/".join(base_parts)
    path = base + ("/" + "/".join(rest) if rest else "")
    expected = Path(os.path.normpath(path)).is_relative_to(
        os.path.normpath(base)
    ) and os.path.normpath(path) != os.path.normpath(base)
    assert is_strictly_inside(path, base) == expected
