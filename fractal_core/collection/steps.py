"""Building blocks shared by the operations: logged commands and pip steps.

Each step is one argument list run on the host, logged (`START`/`END` plus the
command's own output, streamed) into the activity; a non-zero exit raises
`CollectionStepError` carrying the tail of the output.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from packaging.utils import canonicalize_name

from ..hosts import CommandResult
from ..hosts import CommandTimeoutError
from ..hosts import Host
from ..hosts import HostError
from ..manifest import MANIFEST_FILENAME
from .activity import ActivityLog
from .config import CollectionSettings
from .errors import CollectionStepError
from .ownership import TOKEN_ENV

PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}

# Runs inside the task environment: where is the distribution's manifest?
# Uses importlib.metadata (no import of the package itself, no `pip show` parsing).
_LOCATE_MANIFEST = """
import json, os, sys
from importlib.metadata import PackageNotFoundError, distribution
try:
    dist = distribution(sys.argv[1])
except PackageNotFoundError:
    print(json.dumps({"error": "package not installed"})); sys.exit(0)
found = [os.path.abspath(str(dist.locate_file(f))) for f in (dist.files or [])
         if f.name == sys.argv[2]]
print(json.dumps({"name": dist.metadata["Name"], "version": dist.version,
                  "manifests": found}))
"""

FIND_PACKAGE_ROOT = (
    "import importlib.util, os, sys\n"
    "spec = importlib.util.find_spec(sys.argv[1])\n"
    "assert spec is not None and spec.origin, 'not importable'\n"
    "print(os.path.dirname(os.path.abspath(spec.origin)))\n"
)
"""Run as `<python> -c FIND_PACKAGE_ROOT <import name>`: prints the package's folder.

Used by custom and pixi collection, with the environment's own interpreter.
"""


@dataclass
class StepRunner:
    """Runs logged steps of one operation on one host."""

    host: Host
    log: ActivityLog
    settings: CollectionSettings
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Put in every command's environment, to find its processes after a crash."""

    def run(
        self,
        step: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        echo: bool = True,
        shown: str | None = None,
    ) -> CommandResult:
        """Run one step; raise `CollectionStepError` if it fails.

        `shown` replaces the command in the log (for long inline scripts).
        """
        self.log.write(f"START {step}: {shown or shlex.join(argv)}")
        limit = self.settings.step_timeout
        try:
            res = self.host.run(
                argv,
                env={**PIP_ENV, **(env or {}), TOKEN_ENV: self.token},
                cwd=cwd,
                timeout=limit,
                on_output=self.log.output if echo else None,
            )
        except CommandTimeoutError as e:
            raise CollectionStepError(
                f"Step '{step}' timed out after {limit} seconds (the step timeout, "
                "CollectionSettings.step_timeout) and was killed with its processes."
            ) from e
        except HostError as e:
            raise CollectionStepError(f"Step '{step}' could not run: {e}") from e
        if res.returncode != 0:
            tail = (res.stderr.strip() or res.stdout.strip())[-4000:]
            raise CollectionStepError(
                f"Step '{step}' failed with exit code {res.returncode}.\n{tail}"
            )
        self.log.write(f"END   {step}")
        return res

    # --- pip environments -------------------------------------------------

    def pip_args(self) -> list[str]:
        """Cache and index options common to every `pip install`."""
        args = self.settings.python.pip_cache_args()
        if self.settings.index_url:
            args += ["--index-url", self.settings.index_url]
        return args

    def create_venv(self, base_python: str, venv_path: str) -> str:
        """`python -m venv --copies`; return the venv's interpreter."""
        self.run("create venv", [base_python, "-m", "venv", venv_path, "--copies"])
        return venv_python(venv_path)

    def upgrade_pip(self, python: str) -> None:
        """Upgrade pip and setuptools if the settings ask for it."""
        if not self.settings.upgrade_pip:
            self.log.write("SKIP upgrade pip (disabled in the settings)")
            return
        argv = [python, "-m", "pip", "install", *self.pip_args()]
        self.run("upgrade pip", [*argv, "--upgrade", "pip", "setuptools"])

    def pip_install(self, step: str, python: str, requirements: list[str]) -> None:
        """`pip install <requirements...>` (each requirement one argv element)."""
        if not requirements:
            self.log.write(f"SKIP {step} (empty list)")
            return
        argv = [python, "-m", "pip", "install", *self.pip_args(), *requirements]
        self.run(step, argv)

    def pip_install_requirements_file(self, python: str, path: str) -> None:
        """`pip install -r <file>` (reactivation from the frozen requirements)."""
        argv = [python, "-m", "pip", "install", *self.pip_args(), "-r", path]
        self.run("install from pip freeze", argv)

    def pip_freeze(self, python: str) -> str:
        """`pip freeze --all`, exactly as printed."""
        return self.run("pip freeze", [python, "-m", "pip", "freeze", "--all"]).stdout

    def locate_manifest(self, python: str, pkg_name: str) -> tuple[str, str]:
        """Return `(manifest path, installed version)` of `pkg_name` in the venv."""
        res = self.run(
            "locate manifest",
            locate_manifest_argv(python, pkg_name),
            shown=f"{python} -c <locate {MANIFEST_FILENAME} of {pkg_name}>",
        )
        return parse_located_manifest(res.stdout, pkg_name)


def venv_python(venv_path: str) -> str:
    """The interpreter of a POSIX venv."""
    return posixpath.join(venv_path, "bin", "python")


def locate_manifest_argv(python: str, pkg_name: str) -> list[str]:
    """Command printing where `pkg_name`'s manifest is installed (JSON on stdout)."""
    return [python, "-c", _LOCATE_MANIFEST, pkg_name, MANIFEST_FILENAME]


def parse_located_manifest(stdout: str, pkg_name: str) -> tuple[str, str]:
    """`(manifest path, installed version)` from `locate_manifest_argv`'s output."""
    lines = stdout.strip().splitlines()
    try:
        info: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError) as e:
        raise CollectionStepError(
            f"Cannot locate the manifest of {pkg_name}: unexpected output {stdout!r}."
        ) from e
    if "error" in info:
        raise CollectionStepError(f"Package {pkg_name!r} is not installed.")
    if canonicalize_name(info["name"]) != canonicalize_name(pkg_name):
        raise CollectionStepError(
            f"Package name mismatch: installed {info['name']!r}, expected {pkg_name!r}."
        )
    if not info["manifests"]:
        raise CollectionStepError(f"Manifest path not found for {pkg_name}.")
    if len(info["manifests"]) > 1:
        raise CollectionStepError(
            f"Package {pkg_name} ships {len(info['manifests'])} manifests: "
            f"{info['manifests']}."
        )
    return str(info["manifests"][0]), str(info["version"])
