"""Pixi collection and lifecycle with a stand-in `pixi` executable.

The real pixi binary cannot be installed from the registries this project
reaches, so each test writes a small Python stand-in at `<PIXI_HOME>/bin/pixi`
that honours the command-line contract the reference relies on (spec,
task-lifecycle 3.3): `install [--frozen] --manifest-path P` creates an
environment (a real venv whose site-packages sees `<source>/src`) and, without
`--frozen`, writes `pixi.lock`; `shell-hook` prints sourceable shell code; `run
... which python` prints the environment's interpreter. It records every call so
the tests can check arguments, environment variables and working directory.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PixiNotAvailable
from fractal_core.collection import PixiSettings
from fractal_core.collection import collect_pixi
from fractal_core.collection import deactivate
from fractal_core.collection import delete
from fractal_core.collection import reactivate
from fractal_core.collection.pixi_toml import simplify_pyproject_toml
from fractal_core.domain.task_group import TaskGroupActivityStatus as Status
from fractal_core.hosts import HostError
from fractal_core.hosts import LocalHost

from .helpers import TASK_SCRIPT
from .helpers import manifest

STAND_IN = r"""
import json, os, pathlib, sys, venv
home = os.environ.get("PIXI_HOME")
for key in ("PIXI_HOME", "PIXI_CACHE_DIR", "RATTLER_AUTH_FILE"):
    if key not in os.environ:
        sys.exit(f"stand-in pixi: {key} not set")
args = sys.argv[1:]
with open(os.path.join(home, "calls.jsonl"), "a") as f:
    f.write(json.dumps({"argv": args, "cwd": os.getcwd(),
                        "tokio": os.environ.get("TOKIO_WORKER_THREADS")}) + "\n")
src = pathlib.Path(args[args.index("--manifest-path") + 1]).parent
env_dir = src / ".pixi" / "envs" / "default"
if args[0] == "install":
    frozen = "--frozen" in args
    lock = src / "pixi.lock"
    if (src / "SLOW_INSTALL").exists():
        import time; time.sleep(60)
    if (src / "FAIL_INSTALL").exists():
        sys.exit("stand-in pixi: failed to solve the environment")
    if frozen and not lock.exists():
        sys.exit("stand-in pixi: --frozen but no pixi.lock")
    venv.create(env_dir, with_pip=False, symlinks=True)
    site = next(env_dir.glob("lib/python*/site-packages"))
    (site / "project.pth").write_text(str(src / "src") + "\n")
    if not frozen:
        lock.write_text("version: 6\n# solved by the stand-in\n")
    print("stand-in pixi: installed")
elif args[0] == "shell-hook":
    print(f'export PATH="{env_dir}/bin:$PATH"\nexport CONDA_PREFIX="{env_dir}"')
elif args[0] == "run" and args[-2:] == ["which", "python"]:
    print(env_dir / "bin" / "python")
else:
    sys.exit(f"stand-in pixi: unsupported call {args}")
"""

LOCK = "version: 6\n# shipped with the package\n"


def _pixi_home(tmp_path: Path, version: str = "0.47.0") -> Path:
    home = tmp_path / "pixi" / version
    (home / "bin").mkdir(parents=True)
    exe = home / "bin" / "pixi"
    exe.write_text(f"#!{sys.executable}\n{STAND_IN}")
    exe.chmod(0o755)
    return home


def _archive(
    folder: Path, name: str = "mypkg", version: str = "0.1.0", **extra: str
) -> Path:
    top = f"{name}-{version}"
    files = {
        "pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
            '[tool.pixi.workspace]\nchannels = ["conda-forge"]\n'
            'platforms = ["linux-64", "osx-arm64"]\n\n'
            '[tool.pixi.tasks]\nhello = "echo hi"\n'
        ),
        "pixi.lock": LOCK,
        f"src/{name}/__init__.py": "",
        f"src/{name}/__FRACTAL_MANIFEST__.json": json.dumps(manifest("t1")),
        f"src/{name}/t1.py": TASK_SCRIPT,
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def pixi_settings(settings: CollectionSettings, tmp_path: Path) -> CollectionSettings:
    home = _pixi_home(tmp_path)
    pixi = PixiSettings(versions={"0.47.0": str(home)}, default_version="0.47.0")
    return settings.model_copy(update={"pixi": pixi})


def _calls(settings: CollectionSettings) -> list[dict]:
    home = Path(settings.pixi.versions["0.47.0"])
    return [
        json.loads(line) for line in (home / "calls.jsonl").read_text().splitlines()
    ]


def test_pixi_full_cycle(pixi_settings: CollectionSettings, tmp_path: Path) -> None:
    res = collect_pixi(_archive(tmp_path / "up"), settings=pixi_settings, user_id=3)
    assert res.ok, res.activity.log
    group = res.task_group
    path = Path(pixi_settings.base_dir) / "3" / "mypkg" / "0.1.0"
    source = path / "source_dir"
    assert group.path == str(path) and group.pixi_version == "0.47.0"
    assert group.archive_path == str(path / "mypkg-0.1.0.tar.gz")
    assert group.env_info == LOCK  # the shipped lock file, used with --frozen
    wrapper = source / "project_python.sh"
    (task,) = group.task_list
    assert task.command_non_parallel == f"{wrapper} {source}/src/mypkg/t1.py"

    calls = _calls(pixi_settings)
    install = calls[0]
    assert install["argv"] == [
        "install",
        "--concurrent-solves",
        "4",
        "--concurrent-downloads",
        "4",
        "--frozen",
        "--manifest-path",
        f"{source}/pyproject.toml",
    ]
    assert install["cwd"] == str(path) and install["tokio"] == "2"
    assert [c["argv"][0] for c in calls] == ["install", "shell-hook", "run"]

    # FOLLOW 8.4: the wrapper hides the user site-packages.
    out = subprocess.run(
        [
            str(wrapper),
            "-c",
            "import os, sys; print(os.environ['PYTHONNOUSERSITE'], "
            "sys.flags.no_user_site, os.environ['CONDA_PREFIX'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[:2] == ["1", "1"] and out[2].endswith(".pixi/envs/default")
    args, outf = tmp_path / "a.json", tmp_path / "o.json"
    args.write_text('{"x": 1}')
    subprocess.run(
        [
            *task.command_non_parallel.split(),
            "--args-json",
            str(args),
            "--out-json",
            str(outf),
        ],
        check=True,
    )
    assert json.loads(outf.read_text()) == {"echo": {"x": 1}}

    res = deactivate(group, settings=pixi_settings)
    assert res.ok, res.activity.log
    assert not source.exists() and Path(group.archive_path).exists()
    assert group.active is False

    res = reactivate(group, settings=pixi_settings)
    assert res.ok, res.activity.log
    assert group.active is True and wrapper.exists()
    assert (source / "pixi.lock").read_text() == LOCK
    assert "--frozen" in _calls(pixi_settings)[3]["argv"]

    assert delete(group, settings=pixi_settings).ok
    assert not path.exists()


def test_pixi_without_lockfile_option(
    pixi_settings: CollectionSettings, tmp_path: Path
) -> None:
    res = collect_pixi(
        _archive(tmp_path / "up"), settings=pixi_settings, use_lockfile=False
    )
    assert res.ok, res.activity.log
    assert "--frozen" not in _calls(pixi_settings)[0]["argv"]
    assert "solved by the stand-in" in res.task_group.env_info


def test_pixi_install_failure_cleans_up(
    pixi_settings: CollectionSettings, tmp_path: Path
) -> None:
    archive = _archive(tmp_path / "up", FAIL_INSTALL="")
    res = collect_pixi(archive, settings=pixi_settings)
    assert res.activity.status == Status.FAILED and res.task_group is None
    assert "failed to solve the environment" in res.activity.log
    assert not (Path(pixi_settings.base_dir) / "mypkg" / "0.1.0").exists()


def test_step_timeout_kills_a_hanging_step(
    pixi_settings: CollectionSettings, tmp_path: Path
) -> None:
    """Weak point 15: a hanging `pixi install` is killed after `step_timeout`."""
    settings = pixi_settings.model_copy(update={"step_timeout": 1.0})
    res = collect_pixi(_archive(tmp_path / "up", SLOW_INSTALL=""), settings=settings)
    assert res.activity.status == Status.FAILED
    assert "timed out after 1.0 seconds" in res.activity.log
    assert not (Path(settings.base_dir) / "mypkg" / "0.1.0").exists()


def test_pixi_failed_deactivation_keeps_group_active(
    pixi_settings: CollectionSettings, tmp_path: Path
) -> None:
    res = collect_pixi(_archive(tmp_path / "up"), settings=pixi_settings)
    group = res.task_group
    shutil.rmtree(Path(group.path) / "source_dir")
    res = deactivate(group, settings=pixi_settings)
    assert res.activity.status == Status.FAILED and "does not exist" in res.activity.log
    assert group.active is True


def test_pixi_not_available(
    settings: CollectionSettings, pixi_settings, tmp_path: Path
) -> None:
    archive = _archive(tmp_path / "up")
    with pytest.raises(PixiNotAvailable, match="Pixi task collection is not available"):
        collect_pixi(archive, settings=settings)
    with pytest.raises(PixiNotAvailable, match="'9.9'"):
        collect_pixi(archive, settings=pixi_settings, pixi_version="9.9")


def test_simplify_pyproject(caplog: pytest.LogCaptureFixture) -> None:
    toml = (
        '[tool.pixi.workspace]\nplatforms = ["linux-64", "osx-arm64"]\n'
        '[tool.pixi.environments]\ndefault = []\ngpu = ["cuda"]\n'
        '[tool.pixi.tasks]\nhello = "echo"\n'
    )
    assert simplify_pyproject_toml(
        '[project]\nname = "x"\n', "default", "linux-64"
    ) == ('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match="No 'cpu' pixi environment found"):
        simplify_pyproject_toml(toml, "cpu", "linux-64")
    messages: list[str] = []
    out = simplify_pyproject_toml(
        toml,
        "default",
        "linux-64",
        log=lambda m, level=logging.INFO: messages.append(m),
    )
    data = tomllib.loads(out)["tool"]["pixi"]
    assert data["workspace"]["platforms"] == ["linux-64"]
    assert list(data["environments"]) == ["default"] and "tasks" not in data


class BrokenRmHost(LocalHost):
    """A local host whose recursive removal always fails (reference: 'Broken rm')."""

    def remove_tree(self, path: str, *, base: str) -> None:
        raise HostError("Broken rm")


def test_failed_cleanup_is_logged(
    pixi_settings: CollectionSettings, tmp_path: Path
) -> None:
    archive = _archive(tmp_path / "up", FAIL_INSTALL="")
    res = collect_pixi(archive, settings=pixi_settings, host=BrokenRmHost())
    assert res.activity.status == Status.FAILED and res.task_group is None
    log = res.activity.log
    assert "Removing folder failed: Broken rm" in log
    assert "failed to solve the environment" in log
    assert (Path(pixi_settings.base_dir) / "mypkg" / "0.1.0").exists()
