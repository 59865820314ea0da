"""Both sides of the workflow fidelity suite: the same scenario, two runners.

A scenario is plain data: testkit task names, workflow steps (arguments, meta,
type filters), the dataset's images and the job's filters and task slice. The
placeholder `ZARR` in any string stands for the side's own `zarr_dir`, so the
sides never share files; results are normalised back (`<ROOT>`) before they are
compared.

- `run_reference` writes the scenarios as JSON and runs `workflow_driver.py`
  with the reference venv's python against a private PostgreSQL database.
- `run_ours` runs each scenario through `fractal_core.engine.run_job` with a
  `LocalExecutor`.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from engine.testkit import InstalledTestkit

from fractal_core.domain.workflow import Workflow
from fractal_core.engine.job import run_job
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.runner import EngineSettings
from fractal_core.executors.local import LocalExecutor

from .postgres import PostgresSettings

DRIVER = Path(__file__).with_name("workflow_driver.py")
PLACEHOLDER = "ZARR"
WFTASK_ID_BASE = 100
DRIVER_TIMEOUT = 600  # seconds, for the whole batch
JWT_SECRET_KEY = "fidelity-test-secret"  # required by fractal-server's settings


@dataclass
class Scenario:
    """One workflow run to compare; `steps` are (task name, workflow-task kwargs)."""

    name: str
    steps: list[tuple[str, dict[str, Any]]]
    images: list[dict[str, Any]] = field(default_factory=list)
    attribute_filters: dict[str, list[Any]] = field(default_factory=dict)
    type_filters: dict[str, bool] = field(default_factory=dict)
    first_task_index: int | None = None
    last_task_index: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    """`EngineSettings` fields for our side only (e.g. 2.17.0 compatibility)."""
    reruns: list[dict[str, Any]] = field(default_factory=list)
    """Later jobs of the same workflow on the same dataset: their filters/slice."""

    def jobs(self) -> list[dict[str, Any]]:
        """Every job of the scenario, in order: filters and task slice."""
        first = {
            "attribute_filters": self.attribute_filters,
            "type_filters": self.type_filters,
            "first_task_index": self.first_task_index,
            "last_task_index": self.last_task_index,
        }
        defaults = dict.fromkeys(first) | {"attribute_filters": {}, "type_filters": {}}
        return [first, *({**defaults, **rerun} for rerun in self.reruns)]


def fill(value: Any, zarr_dir: str) -> Any:
    """`value` with every `ZARR` in its strings replaced by `zarr_dir`."""
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, zarr_dir)
    if isinstance(value, list):
        return [fill(v, zarr_dir) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, zarr_dir) for k, v in value.items()}
    return value


def normalise(value: Any, root: Path) -> Any:
    """`value` with the side's root folder replaced by `<ROOT>` everywhere."""
    return json.loads(json.dumps(value).replace(str(root), "<ROOT>"))


def _task_spec(kit: InstalledTestkit, name: str) -> dict[str, Any]:
    task = kit.task(name)
    return {
        "name": task.name,
        "type": task.type,
        "command_non_parallel": task.command_non_parallel,
        "command_parallel": task.command_parallel,
        "meta_non_parallel": task.meta_non_parallel,
        "meta_parallel": task.meta_parallel,
        "input_types": task.input_types,
        "output_types": task.output_types,
        "version": task.version,
    }


def reference_payload(
    kit: InstalledTestkit, scenario: Scenario, root: Path
) -> dict[str, Any]:
    """The driver's JSON input for one scenario under `root`."""
    zarr_dir = str(root / "zarr")
    names = sorted({name for name, _ in scenario.steps})
    workflow = []
    for name, kwargs in scenario.steps:
        workflow.append({"task": names.index(name), **fill(kwargs, zarr_dir)})
    return {
        "root": str(root),
        "zarr_dir": zarr_dir,
        "images": fill(scenario.images, zarr_dir),
        "tasks": [_task_spec(kit, name) for name in names],
        "workflow": workflow,
        "jobs": scenario.jobs(),
    }


def _run_reference_python(
    python: Path, pg: PostgresSettings, workdir: Path, argv: list[str]
) -> None:
    """Run the reference venv's python with the database settings in its env."""
    env = {**os.environ, **pg.env(), "JWT_SECRET_KEY": JWT_SECRET_KEY}
    proc = subprocess.run(
        [str(python), *argv],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=DRIVER_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{argv} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )


def run_reference(
    python: Path,
    pg: PostgresSettings,
    kit: InstalledTestkit,
    scenarios: list[Scenario],
    workdir: Path,
) -> list[dict[str, Any]]:
    """Run every scenario through fractal-server 2.17.0; results normalised."""
    roots = [workdir / f"s{ind:02d}" for ind in range(len(scenarios))]
    payload = [
        reference_payload(kit, s, r) for s, r in zip(scenarios, roots, strict=True)
    ]
    for root in roots:
        (root / "zarr").mkdir(parents=True)
    scenarios_file = workdir / "scenarios.json"
    results_file = workdir / "results.json"
    scenarios_file.write_text(json.dumps(payload))
    _run_reference_python(
        python, pg, workdir, [str(DRIVER), str(scenarios_file), str(results_file)]
    )
    results = json.loads(results_file.read_text())
    return [normalise(res, root) for res, root in zip(results, roots, strict=True)]


def create_schema(python: Path, pg: PostgresSettings, workdir: Path) -> None:
    """`fractalctl set-db` (the reference's alembic migrations) on the database.

    Run as `python -m fractal_server`: the cached venv was renamed after it was
    built, so its console scripts' shebangs point to a folder that is gone.
    """
    _run_reference_python(python, pg, workdir, ["-m", "fractal_server", "set-db"])


@dataclass
class DatasetStub:
    """What the engine needs from a dataset."""

    zarr_dir: str
    images: Any
    id: int = 1


def run_ours(kit: InstalledTestkit, scenario: Scenario, root: Path) -> dict[str, Any]:
    """Run one scenario through `fractal_core.engine.run_job`; result normalised."""
    zarr_dir = str(root / "zarr")
    Path(zarr_dir).mkdir(parents=True)
    workflow = Workflow(name="workflow")
    for position, (name, kwargs) in enumerate(scenario.steps):
        wftask = workflow.append_task(
            kit.task(name),
            validate_args=False,
            merge_task_meta=False,
            **fill(kwargs, zarr_dir),
        )
        wftask.id = WFTASK_ID_BASE + position
    dataset = DatasetStub(zarr_dir=zarr_dir, images=fill(scenario.images, zarr_dir))
    recorder = InMemoryRecorder()
    jobs = []
    for ind, job in enumerate(scenario.jobs()):
        with LocalExecutor() as executor:
            outcome = run_job(
                workflow=workflow,
                dataset=dataset,
                executor=executor,
                working_dir=root / "jobs" / f"job-{ind}",
                job_id=ind + 1,
                recorder=recorder,
                first_task_index=job.get("first_task_index"),
                last_task_index=job.get("last_task_index"),
                type_filters=job.get("type_filters") or {},
                attribute_filters=job.get("attribute_filters") or {},
                settings=EngineSettings(**scenario.settings),
            )
        jobs.append({"status": outcome.status.value, "log": outcome.log})
    images = dataset.images
    images = images.to_list() if hasattr(images, "to_list") else list(images)
    runs = []
    for run in sorted(recorder.runs.values(), key=lambda r: r.id):
        runs.append(
            {
                "job": int(run.job_id) - 1,
                "position": int(run.workflowtask_id) - WFTASK_ID_BASE,
                "status": run.status.value,
                "num_available_images": run.num_available_images,
                "units": [
                    {"status": u.status.value, "zarr_urls": list(u.zarr_urls)}
                    for u in sorted(recorder.units_of(run.id), key=lambda u: u.id)
                ],
            }
        )
    image_status = {}
    for position in range(len(scenario.steps)):
        found = recorder.image_status(1, WFTASK_ID_BASE + position)
        if found:
            image_status[str(position)] = dict(sorted(found.items()))
    result = {
        "jobs": jobs,
        "images": images,
        "runs": runs,
        "image_status": image_status,
    }
    return normalise(result, root)
