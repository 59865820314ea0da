"""Task manifests (version 2): model, loader, conversion to tasks."""

from __future__ import annotations

from .errors import ManifestError
from .errors import ManifestProblem
from .loader import load_manifest
from .loader import parse_manifest
from .loader import parse_manifest_bytes
from .loader import tasks_from_manifest_file
from .models import MANIFEST_FILENAME
from .models import ManifestV2
from .models import TaskManifestV2

__all__ = [
    "MANIFEST_FILENAME",
    "ManifestError",
    "ManifestProblem",
    "ManifestV2",
    "TaskManifestV2",
    "load_manifest",
    "parse_manifest",
    "parse_manifest_bytes",
    "tasks_from_manifest_file",
]
