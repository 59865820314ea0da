"""Task-package collection in the background, its activity kept in the store.

`fractal_core.collection` runs the collection (venv, pip, manifest) and reports
each change of its activity to a listener; here the listener writes the
activity into the store, so any request (or a later process) can poll it by
id. When the collection succeeded, the task group is added to the store
before the activity's final state is written: a client that sees `OK` also
sees the group.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from fractal_core.collection import BackgroundOperation
from fractal_core.collection import CollectionSettings
from fractal_core.collection import OperationResult
from fractal_core.collection import collect_pypi
from fractal_core.collection import collect_wheel
from fractal_core.collection import fail_stale_activity
from fractal_core.collection import recover_stale_folders
from fractal_core.domain.task_group import TaskGroup
from fractal_core.domain.task_group import TaskGroupActivity
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import Store

logger = logging.getLogger(__name__)

START_TIMEOUT = 60.0
"""Seconds a collect request waits for the operation to accept or refuse."""


class ActivityWriter:
    """Keeps one activity's stored row up to date (thread-safe).

    The first change adds the row (and gives the activity its id); later
    changes update it. The final state is written by `finish` only, after the
    task group is stored.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._stored = threading.Event()
        self.activity_id: int | None = None
        self.activity: TaskGroupActivity | None = None

    def __call__(self, activity: TaskGroupActivity) -> None:
        """Listener of the collection: store this change unless it is the end."""
        with self._lock:
            self.activity = activity
            if self.activity_id is None:
                with self._store.unit_of_work() as uow:
                    self.activity_id = uow.task_groups.add_activity(activity).id
                    uow.commit()
                self._stored.set()
            elif not activity.is_finished:
                self._write(activity)

    def _write(self, activity: TaskGroupActivity) -> None:
        with self._store.unit_of_work() as uow:
            uow.task_groups.update_activity(
                activity.model_copy(update={"id": self.activity_id})
            )
            uow.commit()

    def wait_stored(self, timeout: float) -> int:
        """The stored activity's id, once the first change was written."""
        if not self._stored.wait(timeout) or self.activity_id is None:
            raise TimeoutError("The collection activity was not stored in time.")
        return self.activity_id

    def finish(self, activity: TaskGroupActivity, group_id: int | None) -> None:
        """Write the final state, linked to the stored task group (if any)."""
        with self._lock:
            if group_id is not None:
                activity.taskgroupv2_id = group_id
            self._write(activity)


def store_group(store: Store, group: TaskGroup) -> TaskGroup:
    """The group as stored: the same package, version and folder, or added now."""
    with store.unit_of_work() as uow:
        for known in uow.task_groups.list(
            pkg_name=group.pkg_name, version=group.version
        ):
            if known.path == group.path:
                return known
        stored = uow.task_groups.add(group)
        uow.commit()
    logger.info(
        "stored task group %s %s (id %s)", group.pkg_name, group.version, stored.id
    )
    return stored


def _collect_and_store(
    *,
    collect: Callable[..., OperationResult],
    store: Store,
    writer: ActivityWriter,
    **kwargs: Any,
) -> OperationResult:
    """Run one collection, store its task group, then its final activity."""
    try:
        result = collect(**kwargs)
        group_id = None
        if result.ok and result.task_group is not None:
            group_id = store_group(store, result.task_group).id
    except Exception as error:
        if writer.activity is None:
            raise  # refused before it started: the request gets the error
        fail_stale_activity(writer.activity, f"{type(error).__name__}: {error}")
        writer.finish(writer.activity, None)
        raise
    writer.finish(result.activity, group_id)
    return result


def start_collection(
    store: Store,
    settings: CollectionSettings,
    *,
    wheel_path: str | None = None,
    package: str | None = None,
    version: str | None = None,
) -> int:
    """Start collecting a wheel file or a PyPI package; return the activity id.

    Refusals that need no work (no such wheel, bad name, no such version)
    raise here, before anything is stored.
    """
    writer = ActivityWriter(store)
    source: dict[str, Any]
    if wheel_path is not None:
        source = {"collect": collect_wheel, "wheel_path": wheel_path}
    else:
        source = {"collect": collect_pypi, "package": package, "version": version}
    operation = BackgroundOperation(
        _collect_and_store,
        store=store,
        writer=writer,
        settings=settings,
        on_change=writer,
        **source,
    )
    operation.activity(START_TIMEOUT)  # re-raises a refusal
    return writer.wait_stored(START_TIMEOUT)


def get_activity(store: Store, activity_id: int) -> TaskGroupActivity:
    """One stored activity (`NotFoundError` when unknown)."""
    with store.unit_of_work() as uow:
        for activity in uow.task_groups.activities():
            if activity.id == activity_id:
                return activity
    raise NotFoundError(f"TaskGroupActivity {activity_id} not found.")


def recover_collections(store: Store, settings: CollectionSettings) -> list[int]:
    """At startup: fail the activities a previous process left in flight and
    remove the half-built folders it left; return the failed activities' ids.

    Only right for the one process serving the data folder (the backend holds
    `backend.lock` to be sure): every activity still pending or ongoing then
    belonged to a process that is gone.
    """
    failed = []
    with store.unit_of_work() as uow:
        for activity in uow.task_groups.activities():
            if fail_stale_activity(activity, "the web backend restarted"):
                uow.task_groups.update_activity(activity)
                failed.append(activity.id)
        uow.commit()
    for folder in recover_stale_folders(settings):
        logger.warning("removed the half-built task-group folder %s", folder)
    return [i for i in failed if i is not None]
