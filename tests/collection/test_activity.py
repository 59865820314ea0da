"""Activity logs: statuses, timestamps, live log, in-flight check."""

from __future__ import annotations

import threading

import pytest

from fractal_core.collection import ActivityLog
from fractal_core.collection import OngoingActivityError
from fractal_core.collection import check_no_activity_in_flight
from fractal_core.collection import fail_stale_activity
from fractal_core.domain.task_group import TaskGroupActivityAction
from fractal_core.domain.task_group import TaskGroupActivityStatus


def test_status_transitions_and_timestamps() -> None:
    seen: list[tuple[str, int]] = []
    log = ActivityLog.start(
        TaskGroupActivityAction.COLLECT,
        "pkg",
        None,
        on_change=lambda a: seen.append((a.status, len(a.log or ""))),
    )
    act = log.activity
    assert act.status == TaskGroupActivityStatus.PENDING
    assert act.version == "N/A"
    assert act.timestamp_started.tzinfo is not None
    log.ongoing()
    log.write("first")
    log.output("raw line")
    log.fail(RuntimeError("boom"))
    assert act.status == TaskGroupActivityStatus.FAILED
    assert (
        act.timestamp_ended is not None and act.timestamp_ended >= act.timestamp_started
    )
    assert "first\n" in act.log and "raw line\n" in act.log
    assert "RuntimeError: boom" in act.log
    assert seen[0][0] == TaskGroupActivityStatus.PENDING
    assert seen[-1][0] == TaskGroupActivityStatus.FAILED
    lengths = [n for _, n in seen]
    assert lengths == sorted(lengths)  # the log only grows


def test_log_is_consistent_under_concurrent_writers() -> None:
    log = ActivityLog.start(TaskGroupActivityAction.DELETE, "pkg", "1")

    def writer(i: int) -> None:
        for j in range(200):
            log.output(f"w{i}-{j}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = log.text().splitlines()
    assert len(lines) == 800
    assert sorted(lines) == sorted(f"w{i}-{j}" for i in range(4) for j in range(200))
    assert log.activity.log == log.text()


def test_in_flight_check() -> None:
    done = ActivityLog.start(TaskGroupActivityAction.COLLECT, "pkg", "1")
    done.succeed()
    check_no_activity_in_flight([done.activity])
    pending = ActivityLog.start(TaskGroupActivityAction.DEACTIVATE, "pkg", "1")
    with pytest.raises(OngoingActivityError, match="action=deactivate, status=pending"):
        check_no_activity_in_flight([done.activity, pending.activity])


def test_fail_stale_activity() -> None:
    stuck = ActivityLog.start(TaskGroupActivityAction.REACTIVATE, "pkg", "1")
    stuck.ongoing()
    stuck.write("half way")
    assert fail_stale_activity(stuck.activity, "process 123 is gone")
    act = stuck.activity
    assert act.status == TaskGroupActivityStatus.FAILED and act.timestamp_ended
    assert "half way" in act.log and "process 123 is gone" in act.log
    assert not fail_stale_activity(act)  # finished activities are left alone
