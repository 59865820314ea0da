"""Helpers to run workflows of testkit tasks through the engine in tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from fractal_core.domain.workflow import Workflow
from fractal_core.domain.workflow_task import WorkflowTask
from fractal_core.engine.recorder import InMemoryRecorder
from fractal_core.engine.runner import EngineSettings
from fractal_core.engine.runner import WorkflowRunResult
from fractal_core.engine.runner import run_workflow
from fractal_core.executors.local import LocalExecutor
from fractal_core.images.image_list import ImageList

from .testkit import InstalledTestkit


@dataclass
class DatasetStub:
    """The two fields the engine needs from a dataset (plus an id)."""

    zarr_dir: str
    images: Any = field(default_factory=list)
    id: int = 1


@dataclass
class Outcome:
    """What a test run produced: images, history, the job folder, the error."""

    dataset: DatasetStub
    recorder: InMemoryRecorder
    job_dir: Path
    result: WorkflowRunResult | None
    error: BaseException | None

    @property
    def images(self) -> list[dict[str, Any]]:
        return (
            ImageList(self.dataset.images).to_list()
            if not isinstance(self.dataset.images, ImageList)
            else self.dataset.images.to_list()
        )

    @property
    def zarr_urls(self) -> list[str]:
        return [img["zarr_url"] for img in self.images]

    def runs(self) -> list[Any]:
        return list(self.recorder.runs.values())

    def units(self, run_index: int = -1) -> list[Any]:
        run = self.runs()[run_index]
        return self.recorder.units_of(run.id)

    def args_file(self, subfolder: str, name: str = "non_par--args.json") -> Any:
        return json.loads((self.job_dir / subfolder / name).read_text())


def build_workflow(
    kit: InstalledTestkit, steps: Sequence[tuple[str, dict]]
) -> Workflow:
    """A workflow of testkit tasks; each step is (task name, insert kwargs)."""
    wf = Workflow(name="test-workflow")
    for name, kwargs in steps:
        wf.append_task(kit.task(name), validate_args=False, **kwargs)
    return wf


def run(
    kit: InstalledTestkit,
    tmp_path: Path,
    steps: Sequence[tuple[str, dict]] | Sequence[WorkflowTask],
    *,
    images: Sequence[dict[str, Any]] = (),
    zarr_dir: str | None = None,
    recorder: InMemoryRecorder | None = None,
    job_dir_name: str = "job",
    dataset: DatasetStub | None = None,
    **kwargs: Any,
) -> Outcome:
    """Run steps on a fresh (or given) dataset with a LocalExecutor; catch errors."""
    if dataset is None:
        dataset = DatasetStub(
            zarr_dir=zarr_dir or str(tmp_path / "zarr"), images=list(images)
        )
    if steps and isinstance(steps[0], WorkflowTask):
        wf_task_list = list(steps)
    else:
        wf_task_list = build_workflow(kit, steps).task_list  # type: ignore[arg-type]
    recorder = recorder or InMemoryRecorder()
    job_dir = tmp_path / job_dir_name
    job_dir.mkdir(parents=True, exist_ok=True)
    result = error = None
    with LocalExecutor(max_workers=4) as executor:
        try:
            result = run_workflow(
                wf_task_list=wf_task_list,
                dataset=dataset,
                executor=executor,
                workflow_dir_local=job_dir,
                recorder=recorder,
                job_id=1,
                settings=kwargs.pop("settings", EngineSettings()),
                **kwargs,
            )
        except Exception as exc:  # the tests inspect it
            error = exc
    return Outcome(
        dataset=dataset, recorder=recorder, job_dir=job_dir, result=result, error=error
    )


def trivial_parallel_job(
    tmp_path: Path,
    n: int,
    cap: int | None = None,
    executor_class: type[LocalExecutor] = LocalExecutor,
) -> Any:
    """`run_job` of one parallel `true` task over `n` images (one unit each).

    `cap` is `EngineSettings.max_parallelization_list_size` (default `n`); the
    job folder is `tmp_path / "job"`; the executor is an `executor_class`.
    """
    import shutil

    from fractal_core import Dataset
    from fractal_core import Task
    from fractal_core import run_job

    zarr_dir = str(tmp_path / "zarr")
    dataset = Dataset(
        name="units",
        zarr_dir=zarr_dir,
        images=ImageList({"zarr_url": f"{zarr_dir}/{i}"} for i in range(n)),
    )
    task = Task(
        name="trivial",
        type="parallel",
        command_parallel=shutil.which("true") or "/bin/true",
        output_types={"done": True},
    )
    workflow = Workflow(name="units")
    workflow.append_task(task, validate_args=False)
    with executor_class(max_workers=2) as executor:
        return run_job(
            workflow=workflow,
            dataset=dataset,
            executor=executor,
            working_dir=tmp_path / "job",
            settings=EngineSettings(max_parallelization_list_size=cap or n),
        )
