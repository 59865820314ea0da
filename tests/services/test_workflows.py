"""Workflows and workflow tasks (services.md §6-8), after the reference's
`test_api_workflow.py`, `test_api_workflow_task.py`,
`test_task_version_update.py` and `test_api_workflow_import_export.py`."""

from __future__ import annotations

from typing import Any

import pytest

from fractal_core import services as sv
from fractal_core.domain.errors import ArgumentValidationError
from fractal_core.domain.job import JobStatus
from fractal_core.io import TaskResolutionError
from fractal_core.io.matching import Ownership
from fractal_core.repository.base import NotFoundError
from fractal_core.repository.base import Store

from .support import add_group
from .support import add_job
from .support import make_task

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "additionalProperties": False,
}


def _setup(store: Store) -> tuple[int, int, dict[str, int]]:
    """A project, an empty workflow, and one active group with typical tasks."""
    project = sv.create_project(store, "p")
    assert project.id is not None
    wf = sv.create_workflow(store, project.id, "wf")
    assert wf.id is not None
    group = add_group(
        store,
        [
            make_task(
                "par",
                "parallel",
                meta_parallel={"mem": 1000, "cpus": 1},
                input_types={"3D": True},
                args_schema_parallel=SCHEMA,
            ),
            make_task("np", "non_parallel", args_schema_non_parallel=SCHEMA),
            make_task("conv", "converter_non_parallel"),
            make_task("comp", "compound", output_types={"3D": False}),
        ],
    )
    ids = {t.name: t.id for t in group.task_list}
    return project.id, wf.id, ids  # type: ignore[return-value]


def test_post_workflow(store: Store) -> None:
    """`test_post_workflow`: a name is unique within its project only."""
    pid, wid, _ = _setup(store)
    with pytest.raises(sv.NameConflictError, match="already exists"):
        sv.create_workflow(store, pid, "wf")
    other = sv.create_project(store, "q")
    assert other.id is not None
    assert sv.create_workflow(store, other.id, "wf").project_id == other.id
    assert [w.id for w in sv.list_workflows(store, pid)] == [wid]


def test_patch_workflow(store: Store) -> None:
    """`test_patch_workflow`: rename (own name allowed), warnings per task."""
    pid, wid, ids = _setup(store)
    sv.create_workflow(store, pid, "taken")
    with pytest.raises(sv.NameConflictError):
        sv.update_workflow(store, pid, wid, name="taken")
    assert sv.update_workflow(store, pid, wid, name="wf").workflow.name == "wf"
    inactive = add_group(store, [make_task("old")], pkg_name="pkg-b", active=False)
    sv.create_workflow_task(store, pid, wid, ids["conv"])
    with store.unit_of_work() as uow:  # a task whose group became inactive later
        wf = uow.workflows.get(wid)
        wf.append_task(inactive.task_list[0])
        uow.workflows.update(wf)
        uow.commit()
    read = sv.update_workflow(store, pid, wid, name="renamed")
    assert read.workflow.name == "renamed"
    assert read.warnings == [None, "Task is not active."]
    no_access = sv.get_workflow(store, pid, wid, ownership=Ownership(user_id=42))
    assert no_access.warnings == ["Current user has no access to this task."] * 2


def test_delete_workflow(store: Store) -> None:
    """`test_delete_workflow` / `_with_job`: tasks go; a submitted job blocks."""
    pid, wid, ids = _setup(store)
    sv.create_workflow_task(store, pid, wid, ids["conv"])
    running = add_job(store, project_id=pid, workflow_id=wid)
    with pytest.raises(sv.ActiveJobError, match="linked to active job"):
        sv.delete_workflow(store, pid, wid)
    with store.unit_of_work() as uow:
        uow.jobs.update(running.model_copy(update={"status": JobStatus.DONE}))
        uow.commit()
    sv.delete_workflow(store, pid, wid)
    with pytest.raises(NotFoundError):
        sv.get_workflow(store, pid, wid)
    assert sv.list_jobs(store)[0].workflow_id is None


def test_workflow_type_filters_flow(store: Store) -> None:
    """`test_workflow_type_filters_flow`: current/input/output per position."""
    pid, wid, ids = _setup(store)
    with pytest.raises(sv.EmptyWorkflowError):
        sv.type_filters_flow(store, pid, wid)
    sv.create_workflow_task(store, pid, wid, ids["comp"])
    sv.create_workflow_task(store, pid, wid, ids["par"], type_filters={"x": True})
    flow = sv.type_filters_flow(store, pid, wid)
    assert [f["current_type_filters"] for f in flow] == [{}, {"3D": False}]
    assert flow[1]["input_type_filters"] == {"3D": True, "x": True}
    assert flow[0]["output_type_filters"] == {"3D": False}


def test_post_workflow_task(store: Store) -> None:
    """`test_post_worfkflow_task`: appended in order, task meta merged under the
    given one; here also inserted at a position."""
    pid, wid, ids = _setup(store)
    first = sv.create_workflow_task(
        store, pid, wid, ids["par"], meta_parallel={"cpus": 4}
    )
    assert first.order == 0 and first.meta_parallel == {"mem": 1000, "cpus": 4}
    assert first.id is not None and first.meta_non_parallel is None
    second = sv.create_workflow_task(store, pid, wid, ids["np"])
    front = sv.create_workflow_task(store, pid, wid, ids["conv"], position=0)
    read = sv.get_workflow(store, pid, wid).workflow
    assert [w.id for w in read.task_list] == [front.id, first.id, second.id]
    assert [w.order for w in read.task_list] == [0, 1, 2]


def test_post_workflow_task_failures(store: Store) -> None:
    """`test_post_worfkflow_task_failures`: missing, inactive, forbidden sides,
    incompatible filters, invalid arguments; nothing is written."""
    pid, wid, ids = _setup(store)
    inactive = add_group(store, [make_task("off")], pkg_name="x", active=False)
    with pytest.raises(NotFoundError):
        sv.create_workflow_task(store, pid, wid, 9999)
    off_id = inactive.task_list[0].id
    assert off_id is not None
    with pytest.raises(sv.InactiveTaskError, match="is not active"):
        sv.create_workflow_task(store, pid, wid, off_id)
    with pytest.raises(sv.WorkflowTaskArgumentsError, match="Cannot set"):
        sv.create_workflow_task(store, pid, wid, ids["par"], args_non_parallel={})
    with pytest.raises(sv.WorkflowTaskArgumentsError, match="Cannot set"):
        sv.create_workflow_task(store, pid, wid, ids["conv"], meta_parallel={"a": 1})
    with pytest.raises(sv.TypeFiltersConflictError, match="Incompatible type"):
        sv.create_workflow_task(store, pid, wid, ids["par"], type_filters={"3D": False})
    with pytest.raises(ArgumentValidationError):
        sv.create_workflow_task(
            store, pid, wid, ids["np"], args_non_parallel={"n": "x"}
        )
    with pytest.raises(NotFoundError):  # no access to the group
        sv.create_workflow_task(
            store, pid, wid, ids["np"], ownership=Ownership(user_id=3)
        )
    assert sv.get_workflow(store, pid, wid).workflow.task_list == []


def test_patch_workflow_task(store: Store) -> None:
    """`test_patch_workflow_task(_with_args_schema)`: wholesale replacement,
    `{}` clears arguments; `_failures`: forbidden sides, incompatible filters."""
    pid, wid, ids = _setup(store)
    wft = sv.create_workflow_task(store, pid, wid, ids["par"], args_parallel={"n": 1})
    assert wft.id is not None
    patched = sv.update_workflow_task(
        store,
        pid,
        wid,
        wft.id,
        {"meta_parallel": {"x": 1}, "type_filters": {"a": True}},
    )
    assert patched.meta_parallel == {"x": 1} and patched.type_filters == {"a": True}
    assert patched.args_parallel == {"n": 1}
    cleared = sv.update_workflow_task(store, pid, wid, wft.id, {"args_parallel": {}})
    assert cleared.args_parallel is None
    with pytest.raises(sv.WorkflowTaskArgumentsError, match="Cannot patch"):
        sv.update_workflow_task(store, pid, wid, wft.id, {"args_non_parallel": {}})
    with pytest.raises(sv.TypeFiltersConflictError):
        sv.update_workflow_task(
            store, pid, wid, wft.id, {"type_filters": {"3D": False}}
        )
    conv = sv.create_workflow_task(store, pid, wid, ids["conv"])
    assert conv.id is not None
    with pytest.raises(sv.WorkflowTaskArgumentsError, match="non parallel"):
        sv.update_workflow_task(store, pid, wid, conv.id, {"args_parallel": {"a": 1}})
    with pytest.raises(ArgumentValidationError):
        sv.update_workflow_task(store, pid, wid, wft.id, {"args_parallel": {"m": 1}})
    got = sv.get_workflow_task(store, pid, wid, wft.id)
    assert got.type_filters == {"a": True} and got.args_parallel is None


def test_delete_workflow_task(store: Store) -> None:
    """`test_delete_workflow_task`: renumbering; refused while a job runs."""
    pid, wid, ids = _setup(store)
    a, b, c = (
        sv.create_workflow_task(store, pid, wid, ids[n]) for n in ("conv", "np", "par")
    )
    assert b.id is not None
    job = add_job(store, project_id=pid, workflow_id=wid)
    with pytest.raises(sv.ActiveJobError, match="Cannot delete a WorkflowTask"):
        sv.delete_workflow_task(store, pid, wid, b.id)
    with store.unit_of_work() as uow:
        uow.jobs.update(job.model_copy(update={"status": JobStatus.FAILED}))
        uow.commit()
    sv.delete_workflow_task(store, pid, wid, b.id)
    task_list = sv.get_workflow(store, pid, wid).workflow.task_list
    assert [(w.id, w.order) for w in task_list] == [(a.id, 0), (c.id, 1)]
    with pytest.raises(NotFoundError):
        sv.delete_workflow_task(store, pid, wid, b.id)


def test_reorder_task_list(store: Store) -> None:
    """`test_reorder_task_list(_fail)`: permutations only, atomic with a rename,
    refused while a job (or two) runs."""
    pid, wid, ids = _setup(store)
    wfts = [
        sv.create_workflow_task(store, pid, wid, ids[n]) for n in ("conv", "np", "par")
    ]
    order = [w.id for w in wfts]
    new = [order[2], order[0], order[1]]
    read = sv.update_workflow(store, pid, wid, reordered_workflowtask_ids=new)  # type: ignore[arg-type]
    assert [w.id for w in read.workflow.task_list] == new
    for bad in ([order[0]], [*new, 999], [new[0], new[1], 999]):
        with pytest.raises(sv.InvalidReorderError, match="must be a permutation"):
            sv.update_workflow(
                store, pid, wid, name="x", reordered_workflowtask_ids=bad
            )  # type: ignore[arg-type]
    assert sv.get_workflow(store, pid, wid).workflow.name == "wf"  # atomic
    with pytest.raises(ValueError, match="repetitions"):
        sv.update_workflow(store, pid, wid, reordered_workflowtask_ids=[new[0]] * 3)  # type: ignore[list-item]
    add_job(store, project_id=pid, workflow_id=wid)
    with pytest.raises(sv.ActiveJobError, match="re-order"):
        sv.update_workflow(store, pid, wid, reordered_workflowtask_ids=order)  # type: ignore[arg-type]
    empty = sv.create_workflow(store, pid, "empty")
    assert empty.id is not None
    assert (
        sv.update_workflow(
            store, pid, empty.id, reordered_workflowtask_ids=[]
        ).workflow.task_list
        == []
    )


def test_replace_task_in_workflowtask(store: Store) -> None:
    """`test_replace_task_in_workflowtask` and `test_get_new_workflow_task_meta`:
    in place, meta recomputed, args kept unless given, type and side errors."""
    pid, wid, ids = _setup(store)
    new_group = add_group(
        store,
        [
            make_task(
                "par",
                "parallel",
                meta_parallel={"needs_luck": True},
                input_types={"3D": True},
                args_schema_parallel=SCHEMA,
            ),
            make_task("np", "converter_non_parallel", args_schema_non_parallel=SCHEMA),
            make_task("comp", "parallel"),
        ],
        version="2.0.0",
    )
    new = {t.name: t.id for t in new_group.task_list}
    wft = sv.create_workflow_task(
        store, pid, wid, ids["par"], meta_parallel={"cpus": 2}, args_parallel={"n": 1}
    )
    assert wft.id is not None and wft.meta_parallel == {"mem": 1000, "cpus": 2}
    sv.update_workflow_task(store, pid, wid, wft.id, {"meta_parallel": {"cpus": 2}})
    replaced = sv.replace_workflow_task(store, pid, wid, wft.id, new["par"])  # type: ignore[arg-type]
    assert (replaced.id, replaced.order, replaced.task_id) == (wft.id, 0, new["par"])
    # user deleted "mem" (a default), kept cpus=2: laid over the new defaults
    assert replaced.meta_parallel == {"cpus": 2, "needs_luck": True}
    assert replaced.args_parallel == {"n": 1}
    again = sv.replace_workflow_task(
        store,
        pid,
        wid,
        wft.id,
        new["par"],
        args_parallel={"n": 5},  # type: ignore[arg-type]
    )
    assert again.args_parallel == {"n": 5}
    with pytest.raises(sv.WorkflowTaskArgumentsError, match="for parallel task"):
        sv.replace_workflow_task(
            store, pid, wid, wft.id, new["par"], args_non_parallel={}
        )  # type: ignore[arg-type]
    comp = sv.create_workflow_task(store, pid, wid, ids["comp"])
    with pytest.raises(sv.TaskTypeChangeError, match="from compound to parallel"):
        sv.replace_workflow_task(store, pid, wid, comp.id, new["comp"])  # type: ignore[arg-type]
    np_wft = sv.create_workflow_task(store, pid, wid, ids["np"])
    moved = sv.replace_workflow_task(store, pid, wid, np_wft.id, new["np"])  # type: ignore[arg-type]
    assert moved.task_type == "converter_non_parallel"
    sv.update_workflow_task(store, pid, wid, wft.id, {"type_filters": {"x": True}})
    conflicting = add_group(
        store,
        [
            make_task(
                "par", "parallel", input_types={"x": False}, args_schema_parallel=SCHEMA
            )
        ],
        version="3.0.0",
    )
    with pytest.raises(sv.TypeFiltersConflictError):
        sv.replace_workflow_task(store, pid, wid, wft.id, conflicting.task_list[0].id)  # type: ignore[arg-type]


def test_version_update_candidates(store: Store) -> None:
    """`test_get_workflow_version_update_candidates(_ordering)`: newer PEP 440
    versions of the same package and name, active, with a schema, compatible
    type, oldest first."""
    project = sv.create_project(store, "p")
    wf = sv.create_workflow(store, project.id, "wf")  # type: ignore[arg-type]
    pid, wid = project.id, wf.id
    base = add_group(
        store,
        [make_task("t", args_schema_parallel=SCHEMA), make_task("plain")],
        pkg_name="pkg",
        version="1.9.0",
    )
    kept: dict[str, int] = {}
    for version in ("1.10.0", "1.9.1", "2.0.0a1", "1.0.0"):
        g = add_group(
            store,
            [make_task("t", args_schema_parallel=SCHEMA)],
            pkg_name="pkg",
            version=version,
        )
        kept[version] = g.task_list[0].id  # type: ignore[assignment]
    add_group(
        store,
        [make_task("t", args_schema_parallel=SCHEMA)],
        pkg_name="pkg",
        version="5.0",
        active=False,
    )
    add_group(store, [make_task("t")], pkg_name="pkg", version="6.0")
    add_group(
        store,
        [make_task("t", args_schema_parallel=SCHEMA)],
        pkg_name="other",
        version="7.0",
    )
    add_group(
        store,
        [make_task("t", "compound", args_schema_parallel=SCHEMA)],
        pkg_name="pkg",
        version="8.0",
    )
    add_group(
        store,
        [make_task("t", args_schema_parallel=SCHEMA)],
        pkg_name="pkg",
        version="not-pep440",
    )
    for task in base.task_list:
        sv.create_workflow_task(store, pid, wid, task.id)  # type: ignore[arg-type]
    candidates = sv.version_update_candidates(store, pid, wid)  # type: ignore[arg-type]
    assert candidates == [
        [
            {"task_id": kept["1.9.1"], "version": "1.9.1"},
            {"task_id": kept["1.10.0"], "version": "1.10.0"},
            {"task_id": kept["2.0.0a1"], "version": "2.0.0a1"},
        ],
        [],
    ]
    assert sv.version_update_candidates(
        store,
        pid,
        wid,
        ownership=Ownership(user_id=99),  # type: ignore[arg-type]
    ) == [[], []]


def test_import_export(store: Store) -> None:
    """`test_import_export`: round trip without ids; missing tasks refused and
    nothing written; inactive tasks imported with a warning."""
    pid, wid, ids = _setup(store)
    sv.create_workflow_task(store, pid, wid, ids["par"], args_parallel={"n": 2})
    sv.create_workflow_task(store, pid, wid, ids["np"])
    exported = sv.export_workflow(store, pid, wid)
    assert [t["task"] for t in exported["task_list"]] == [
        {"pkg_name": "fractal-tasks-demo", "version": "1.0.0", "name": "par"},
        {"pkg_name": "fractal-tasks-demo", "version": "1.0.0", "name": "np"},
    ]
    with pytest.raises(sv.NameConflictError):
        sv.import_workflow(store, pid, exported)
    imported = sv.import_workflow(store, pid, dict(exported, name="copy"))
    assert imported.warnings == [None, None]
    assert sv.export_workflow(store, pid, imported.workflow.id) == dict(  # type: ignore[arg-type]
        exported, name="copy"
    )
    missing = dict(exported, name="missing")
    missing["task_list"] = [
        dict(
            exported["task_list"][0],
            task={"pkg_name": "nope", "version": "1", "name": "x"},
        )
    ]
    with pytest.raises(TaskResolutionError):
        sv.import_workflow(store, pid, missing)
    assert [w.name for w in sv.list_workflows(store, pid)] == ["wf", "copy"]
    with store.unit_of_work() as uow:
        group = uow.task_groups.list()[0]
        uow.task_groups.update(group.model_copy(update={"active": False}))
        uow.commit()
    flagged = sv.import_workflow(store, pid, dict(exported, name="inactive"))
    assert flagged.warnings == ["Task is not active."] * 2
