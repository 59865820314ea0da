"""The SLURM executor: configuration, batching, sbatch scripts (and its runtime)."""

from __future__ import annotations

from .batching import JobResources
from .batching import SlurmHeuristicsError
from .batching import estimate_parallel_tasks_per_job
from .batching import heuristics
from .batching import job_resources
from .batching import plan_batches
from .config import FORBIDDEN_EXTRA_OPTIONS
from .config import SlurmBatchingConfig
from .config import SlurmConfig
from .config import SlurmOptions
from .config import SlurmResourceConfig
from .config import merge_slurm_config
from .config import slurm_config_for
from .executor import SlurmExecutor
from .executor import SlurmHandle
from .executor import default_resource
from .failures import JobFinal
from .failures import Verdict
from .failures import classify_unit
from .memory import SlurmConfigError
from .memory import slurm_mem_to_mb
from .script import UNIT_EXIT_MARKER
from .script import SlurmJobSpec
from .script import sbatch_script
from .watcher import SlurmWatcher
from .watcher import WatcherRegistry
from .watcher import watcher_for

__all__ = [
    "FORBIDDEN_EXTRA_OPTIONS",
    "UNIT_EXIT_MARKER",
    "JobFinal",
    "JobResources",
    "SlurmBatchingConfig",
    "SlurmConfig",
    "SlurmConfigError",
    "SlurmExecutor",
    "SlurmHandle",
    "SlurmHeuristicsError",
    "SlurmJobSpec",
    "SlurmOptions",
    "SlurmResourceConfig",
    "SlurmWatcher",
    "Verdict",
    "WatcherRegistry",
    "classify_unit",
    "default_resource",
    "estimate_parallel_tasks_per_job",
    "heuristics",
    "job_resources",
    "merge_slurm_config",
    "plan_batches",
    "sbatch_script",
    "slurm_config_for",
    "slurm_mem_to_mb",
    "watcher_for",
]
