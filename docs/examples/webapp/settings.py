"""Where the example backend keeps its database and files, from arguments or env."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATABASE_URL = "FRACTAL_WEBAPP_DATABASE_URL"
ENV_DATA_DIR = "FRACTAL_WEBAPP_DATA_DIR"
ENV_MAX_WORKERS = "FRACTAL_WEBAPP_MAX_WORKERS"
ENV_UPGRADE_PIP = "FRACTAL_WEBAPP_UPGRADE_PIP"


class SettingsError(ValueError):
    """A setting is missing or malformed; names the variable and its value."""


def _env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; refuse anything else, naming it."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} must be one of 1/0, true/false, yes/no.")


def _env_positive_int(name: str, default: int) -> int:
    """Read a positive integer variable; refuse anything else, naming it."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{name}={raw!r} must be a positive integer.")
    return value


@dataclass(frozen=True)
class Settings:
    """One backend's database, data folder and execution options.

    The data folder holds `tasks/` (collected task packages), `jobs/` (job
    folders) and `projects/` (default zarr_dirs of datasets).
    """

    database_url: str
    data_dir: Path
    max_workers: int = 2
    upgrade_pip: bool = True
    stop_poll_interval: float = 1.0

    @classmethod
    def resolve(
        cls, database_url: str | None = None, data_dir: str | Path | None = None
    ) -> Settings:
        """Arguments first, then the environment; the database defaults to
        `<data_dir>/fractal.sqlite`."""
        folder = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR)
        if not folder:
            raise SettingsError(f"No data folder: pass data_dir or set {ENV_DATA_DIR}.")
        path = Path(folder).expanduser().resolve()
        url = (
            database_url
            or os.environ.get(ENV_DATABASE_URL)
            or str(path / "fractal.sqlite")
        )
        return cls(
            database_url=url,
            data_dir=path,
            max_workers=_env_positive_int(ENV_MAX_WORKERS, 2),
            upgrade_pip=_env_bool(ENV_UPGRADE_PIP, True),
        )

    @property
    def tasks_dir(self) -> Path:
        return self.data_dir / "tasks"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def projects_dir(self) -> Path:
        return self.data_dir / "projects"
