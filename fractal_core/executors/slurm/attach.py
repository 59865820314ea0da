"""Rebuilding a `SlurmHandle` from its `snapshot()` (e.g. in a new process).

The snapshot names the submission folder, the SLURM job ids and the units of
each job; the rebuilt handle reads the units' records again through the
executor's host (also over SSH) and hands the jobs still open to the
executor's watcher. Submission tokens whose job id was never learnt
(`lost_tokens`) are kept, so `cancel()` of the rebuilt handle still finds
and cancels those jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from .._attach import _recorded_result
from .._attach import _unit_of
from .._board import SNAPSHOT_VERSION
from .._unit import failed
from ..base import ExecutorError
from ..base import FailureKind
from .handle import EXECUTOR_KIND
from .handle import SlurmHandle
from .submission import check_token

if TYPE_CHECKING:
    from .executor import SlurmExecutor


def _checked_parts(
    state: Mapping[str, Any],
) -> tuple[Mapping[str, Any], list[Any], str]:
    """The snapshot's `slurm` part, unit entries and handle id, or ExecutorError."""
    if not isinstance(state, Mapping):
        raise ExecutorError(f"Cannot attach: state={state!r} is not a mapping.")
    if state.get("version") != SNAPSHOT_VERSION:
        raise ExecutorError(
            f"Cannot attach: version={state.get('version')!r}, "
            f"expected {SNAPSHOT_VERSION}."
        )
    if state.get("executor") != EXECUTOR_KIND:
        raise ExecutorError(
            f"Cannot attach: executor={state.get('executor')!r} is not "
            f"{EXECUTOR_KIND!r}."
        )
    slurm = state.get("slurm")
    entries = state.get("units")
    handle_id = state.get("handle_id")
    if not isinstance(slurm, Mapping) or not isinstance(entries, list):
        raise ExecutorError("Cannot attach: the state has no 'slurm' or 'units' part.")
    if not isinstance(handle_id, str):
        raise ExecutorError(f"Cannot attach: handle_id={handle_id!r} is not a str.")
    submission_dir, jobs = slurm.get("submission_dir"), slurm.get("jobs")
    if not isinstance(submission_dir, str) or not isinstance(jobs, Mapping):
        raise ExecutorError("Cannot attach: bad 'slurm' part of the state.")
    return slurm, entries, handle_id


def _members(value: Any, count: int, what: str) -> list[int]:
    """A job's unit indices, checked against the number of units."""
    if not isinstance(value, list) or not all(
        isinstance(i, int) and 0 <= i < count for i in value
    ):
        raise ExecutorError(f"Cannot attach: bad unit list of {what}.")
    return value


def _restore_jobs(handle: SlurmHandle, slurm: Mapping[str, Any], count: int) -> None:
    """Job ids, error files and submission tokens of the snapshot, checked."""
    for job_id, info in slurm["jobs"].items():
        if not isinstance(info, Mapping):
            raise ExecutorError(f"Cannot attach: bad entry of job {job_id!r}.")
        members = _members(info.get("units"), count, f"job {job_id!r}")
        token = info.get("token")
        handle._add_job(
            str(job_id),
            members,
            str(info.get("err", "")),
            None if token is None else check_token(token),
        )
    lost = slurm.get("lost_tokens") or {}
    if not isinstance(lost, Mapping):
        raise ExecutorError(f"Cannot attach: lost_tokens={lost!r} is not a mapping.")
    for token, members in lost.items():
        handle._lost[check_token(token)] = _members(members, count, f"{token!r}")


def handle_from_snapshot(
    state: Mapping[str, Any], executor: SlurmExecutor
) -> SlurmHandle:
    """A handle watching the submission that `state` describes (checked first)."""
    slurm, entries, handle_id = _checked_parts(state)
    units = [_unit_of(e, f"units[{i}].") for i, e in enumerate(entries)]
    handle = SlurmHandle(
        units,
        host=executor.host,
        slurm_env=executor.slurm_env,
        watcher=executor.watcher,
        submission_dir=slurm["submission_dir"],
        handle_id=handle_id,
    )
    handle._cancelled = bool(slurm.get("cancelled"))
    _restore_jobs(handle, slurm, len(units))
    for index, entry in enumerate(entries):
        limit = entry.get("time_limit_s")
        handle._set_limit(index, limit if isinstance(limit, int | float) else None)
        result = entry.get("result")
        if isinstance(result, Mapping):
            handle._finish(index, _recorded_result(units[index], result))
        elif index not in handle._native:
            handle._finish(
                index,
                failed(
                    units[index],
                    FailureKind.EXECUTOR_ERROR,
                    f"Unit {units[index].id} was never submitted to SLURM "
                    "(attach found no job id).",
                ),
            )
    handle.refresh()
    live = handle.live_jobs()
    if live:
        executor.watcher.watch(live, handle)
    return handle
