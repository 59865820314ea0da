"""`run WORKFLOW_FILE`: run a workflow file exported by fractal-server.

Tasks are looked up among the groups collected under `--tasks-dir` (as
`collect` leaves them); the dataset is a dataset file (`--dataset`) or a zarr
folder (`--zarr-dir`, with `--scan` to start from the OME-Zarr images already
in it). Units run as local subprocesses or as SLURM jobs (`--executor slurm`,
see `executor_opts`). Progress goes to stderr, the final status to stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..collection import find_task_groups
from ..domain.dataset import Dataset
from ..engine.job import run_job
from ..io.dataset_io import export_dataset_file
from ..io.dataset_io import import_dataset_file
from ..io.workflow_io import import_workflow_file
from ..views.progress import ProgressPrinter
from ._common import EXIT_FAILED
from ._common import EXIT_OK
from ._common import UsageError
from ._common import absolute_path
from ._common import regular_file
from ._common import say
from .executor_opts import add_executor_options
from .executor_opts import make_executor
from .groups_cmd import settings_for
from .scan import find_ome_zarr_images

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a workflow file on a dataset (local or SLURM executor)",
        description="Run WORKFLOW_FILE (exported by fractal-server or by "
        "fractal_core) on a dataset, each task unit a subprocess or a SLURM job, "
        "in the new job folder JOB_DIR. Exit code 0 when the job is done, 1 "
        "when it failed.",
    )
    p.add_argument("workflow_file", metavar="WORKFLOW_FILE")
    p.add_argument("--tasks-dir", required=True, help="collection base folder")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--dataset", help="a dataset file (fractal-server format)")
    where.add_argument("--zarr-dir", help="the dataset's zarr folder")
    p.add_argument(
        "--scan",
        action="store_true",
        help="with --zarr-dir: start from the OME-Zarr images found in it",
    )
    p.add_argument("--job-dir", required=True, help="job folder (must not exist)")
    p.add_argument("--first-task", type=int, default=None, help="first task index")
    p.add_argument("--last-task", type=int, default=None, help="last task index")
    p.add_argument("--timeout", type=float, default=None, help="job time limit (s)")
    p.add_argument("--save-dataset", help="write the final dataset to this file")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_executor_options(p)
    p.set_defaults(handler=run)


def _dataset(args: argparse.Namespace) -> Dataset:
    if args.dataset:
        if args.scan:
            raise UsageError("--scan goes with --zarr-dir, not with --dataset.")
        return import_dataset_file(regular_file(args.dataset, "--dataset"))
    zarr_dir = absolute_path(args.zarr_dir, "--zarr-dir")
    dataset = Dataset(name="cli", zarr_dir=str(zarr_dir))
    if args.scan:
        if not zarr_dir.is_dir():
            raise UsageError(f"--zarr-dir {str(zarr_dir)!r} is not a folder.")
        for image in find_ome_zarr_images(zarr_dir):
            dataset.images.add(image)
    return dataset


def run(args: argparse.Namespace) -> int:
    workflow_file = regular_file(args.workflow_file, "WORKFLOW_FILE")
    job_dir = absolute_path(args.job_dir, "--job-dir")
    if job_dir.exists() or job_dir.is_symlink():
        raise UsageError(f"--job-dir {str(job_dir)!r} already exists.")
    save = (
        absolute_path(args.save_dataset, "--save-dataset")
        if args.save_dataset
        else None
    )
    executor = make_executor(args, job_dir)
    groups = find_task_groups(settings_for(args.tasks_dir))
    workflow = import_workflow_file(workflow_file, groups)
    if not workflow.task_list:
        raise UsageError(f"WORKFLOW_FILE {str(workflow_file)!r} has no tasks.")
    dataset = _dataset(args)
    listener = None if args.quiet else ProgressPrinter(sys.stderr)
    with executor:
        outcome = run_job(
            workflow=workflow,
            dataset=dataset,
            executor=executor,
            working_dir=job_dir,
            first_task_index=args.first_task,
            last_task_index=args.last_task,
            timeout=args.timeout,
            on_event=listener,
        )
    if save is not None:
        export_dataset_file(dataset, save)
    say(f"job {outcome.job_id}: {outcome.status.value} ({len(dataset.images)} images)")
    if not outcome.ok:
        for failure in outcome.failures[:10]:
            say(
                f"  {failure.task_name} failed on {', '.join(failure.zarr_urls)}: "
                f"{failure.message.splitlines()[-1] if failure.message else ''}",
                sys.stderr,
            )
        if not outcome.failures:
            say(
                outcome.log.strip().splitlines()[-1] if outcome.log.strip() else "",
                sys.stderr,
            )
        return EXIT_FAILED
    return EXIT_OK
