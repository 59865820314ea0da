"""`python -m fractal_core`: collect task packages, run workflow files, read jobs.

Subcommands `collect`, `run`, `status` and `groups` (see `docs/cli.md`). Exit
codes: 0 success, 1 the operation ran and failed (a failed job, a failed
collection, an orphaned job), 2 a usage error (bad arguments or input files,
refused before anything is written), 3 `status` of a job still running,
130 interrupted. Library errors are printed on stderr as one message, never as
a traceback.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
