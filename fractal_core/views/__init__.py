"""Short text and HTML views of domain objects, image lists and jobs.

The domain, image and engine classes keep thin `__repr__`/`_repr_html_`
methods that call in here, so how things look lives in one place and the
rendered text can be tested on its own. Every value shown in HTML goes through
`html.escape`. `progress(handle)` / `watch(handle)` follow a running job.
"""

from __future__ import annotations

from .html import dataset_html
from .html import image_list_html
from .html import job_html
from .html import task_group_html
from .html import workflow_html
from .progress import ProgressPrinter
from .progress import ViewError
from .progress import progress
from .progress import progress_lines
from .progress import watch
from .text import dataset_repr
from .text import job_handle_repr
from .text import job_outcome_repr
from .text import job_repr
from .text import task_group_repr
from .text import task_repr
from .text import workflow_repr
from .text import workflow_task_repr

__all__ = [
    "ProgressPrinter",
    "ViewError",
    "dataset_html",
    "dataset_repr",
    "image_list_html",
    "job_handle_repr",
    "job_html",
    "job_outcome_repr",
    "job_repr",
    "progress",
    "progress_lines",
    "task_group_html",
    "task_group_repr",
    "task_repr",
    "watch",
    "workflow_html",
    "workflow_repr",
    "workflow_task_repr",
]
