"""Task-package collection (PyPI, wheel, custom environment, pixi) and lifecycle."""

from __future__ import annotations

from .activity import ActivityLog
from .activity import check_no_activity_in_flight
from .activity import fail_stale_activity
from .background import BackgroundOperation
from .config import CollectionSettings
from .config import PixiSettings
from .config import PythonSettings
from .custom import collect_custom
from .discovery import find_task_groups
from .discovery import load_task_group
from .errors import CollectionStepError
from .errors import InvalidCollectionRequest
from .errors import OngoingActivityError
from .errors import PackageIndexError
from .errors import PackageVersionNotFound
from .errors import PixiNotAvailable
from .errors import PythonVersionNotAvailable
from .errors import TaskGroupEnvironmentMissing
from .errors import TaskGroupPathExists
from .errors import TaskGroupRecordError
from .errors import TaskGroupStateError
from .errors import TaskLifecycleError
from .lifecycle import deactivate
from .lifecycle import delete
from .lifecycle import reactivate
from .pip_collect import collect_pypi
from .pip_collect import collect_wheel
from .pixi import collect_pixi
from .pypi import choose_version
from .records import RECORD_FILENAME
from .recovery import recover_stale_folders
from .result import OperationFailed
from .result import OperationResult
from .specs import parse_pixi_archive_name
from .specs import parse_wheel_name
from .specs import validate_package_name
from .wheels import build_wheel

__all__ = [
    "ActivityLog",
    "BackgroundOperation",
    "CollectionSettings",
    "CollectionStepError",
    "InvalidCollectionRequest",
    "OngoingActivityError",
    "OperationFailed",
    "OperationResult",
    "PackageIndexError",
    "PackageVersionNotFound",
    "PixiNotAvailable",
    "PixiSettings",
    "PythonSettings",
    "PythonVersionNotAvailable",
    "RECORD_FILENAME",
    "TaskGroupEnvironmentMissing",
    "TaskGroupPathExists",
    "TaskGroupRecordError",
    "TaskGroupStateError",
    "TaskLifecycleError",
    "build_wheel",
    "check_no_activity_in_flight",
    "choose_version",
    "collect_custom",
    "collect_pixi",
    "collect_pypi",
    "collect_wheel",
    "deactivate",
    "delete",
    "fail_stale_activity",
    "find_task_groups",
    "load_task_group",
    "parse_pixi_archive_name",
    "parse_wheel_name",
    "reactivate",
    "recover_stale_folders",
    "validate_package_name",
]
