"""The example web backend (docs/examples/webapp) served by uvicorn, over real HTTP.

One server process on a loopback port and a SQLite file; the testkit wheel
is collected through the API. The tests run workflows, query images, cancel
a sleeping job, check the error answers, and kill the server (SIGKILL) while
a job runs: the restarted server reports the job failed with the dead
process named, and no task process of it is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.engine.process_tools import processes_with_marker
from tests.engine.testkit import build_wheel

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
HANG_GUARD = 120.0


@dataclass
class Reply:
    """One HTTP answer: status and body (JSON decoded when it is JSON)."""

    status: int
    body: Any


def _free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _decode(raw: bytes, content_type: str | None) -> Any:
    text = raw.decode()
    return (
        json.loads(text)
        if (content_type or "").startswith("application/json")
        else text
    )


def wait_for(what: str, check: Callable[[], Any], timeout: float = HANG_GUARD) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Server:
    """`uvicorn --factory webapp.app:create_app` in a subprocess, and a client."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        """Start on a fresh port; return once /health answers."""
        self.port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "FRACTAL_WEBAPP_DATA_DIR": str(self.data_dir),
            "FRACTAL_WEBAPP_UPGRADE_PIP": "0",
        }
        argv = [
            sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES),
            "--factory", "webapp.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        wait_for("the server to answer", self._ready)

    def _ready(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, f"server exited:\n{self.log_tail()}"
        try:
            return self.call("GET", "/health").status == 200
        except OSError:
            return False

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> int:
        """SIGKILL the server (no shutdown code runs); return its pid."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(HANG_GUARD)
        return self.proc.pid

    def stop(self) -> int | None:
        """SIGTERM, the way an operator stops it; return its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(HANG_GUARD)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        """One request; HTTP errors are answers too."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=HANG_GUARD) as answer:
                raw, ctype, status = (
                    answer.read(),
                    answer.headers["Content-Type"],
                    answer.status,
                )
        except urllib.error.HTTPError as error:
            raw, ctype, status = error.read(), error.headers["Content-Type"], error.code
        return Reply(status, _decode(raw, ctype))

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        """The body of an answer that must have `status`."""
        reply = self.call(method, path, body)
        assert reply.status == status, (method, path, reply, self.log_tail())
        return reply.body

    def job_ended(self, project_id: int, job_id: int) -> dict[str, Any]:
        """Poll a job until it is no longer `submitted`."""

        def ended() -> dict[str, Any] | None:
            job = self.ok("GET", f"/projects/{project_id}/jobs/{job_id}")
            return None if job["status"] == "submitted" else job

        result: dict[str, Any] = wait_for(f"job {job_id} to end", ended)
        return result


@dataclass
class Served:
    server: Server
    tasks: dict[str, int]
    group_id: int
    wheel: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A running server with the testkit collected through the API."""
    root = tmp_path_factory.mktemp("webapp")
    wheel = build_wheel(root / "wheel")
    server = Server(root / "data", root / "server.log")
    server.start()
    try:
        activity = server.ok(
            "POST", "/task-groups/collect", {"wheel_path": str(wheel)}, status=202
        )
        assert activity["status"] in ("pending", "ongoing", "OK")
        done = _activity_done(server, activity["id"])
        assert done["status"] == "OK", done["log"]
        (group,) = server.ok("GET", "/task-groups")
        assert group["id"] == done["taskgroupv2_id"]
        tasks = {task["name"]: task["id"] for task in group["tasks"]}
        yield Served(server, tasks, group["id"], wheel)
    finally:
        code = server.stop()
        for pid in processes_with_marker(str(server.data_dir / "jobs"), 0):
            os.kill(pid, signal.SIGKILL)  # a failed test's sleeping units
        # uvicorn re-raises SIGTERM after its graceful shutdown
        assert code in (0, -signal.SIGTERM, None), server.log_tail()
        assert "Application shutdown complete" in server.log_tail()


def _activity_done(server: Server, activity_id: int) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        found = server.ok("GET", f"/task-groups/activities/{activity_id}")
        return found if found["status"] in ("OK", "failed") else None

    result: dict[str, Any] = wait_for("the collection", finished)
    return result


def _project(served: Served, name: str, steps: list[dict[str, Any]]) -> dict[str, int]:
    """A project, a dataset and a workflow of `steps`; their ids."""
    s = served.server
    project = s.ok("POST", "/projects", {"name": name}, status=201)
    p = project["id"]
    dataset = s.ok("POST", f"/projects/{p}/datasets", {"name": "ds"}, status=201)
    workflow = s.ok(
        "POST", f"/projects/{p}/workflows", {"name": "wf", "tasks": steps}, status=201
    )
    assert [t["task_id"] for t in workflow["task_list"]] == [
        step["task_id"] for step in steps
    ]
    return {"project": p, "dataset": dataset["id"], "workflow": workflow["id"]}


def _sleeping_steps(served: Served) -> list[dict[str, Any]]:
    """Two images created, then marked by units that sleep 300 s."""
    return [
        {
            "task_id": served.tasks["create_images"],
            "args_non_parallel": {"num_images": 2},
        },
        {"task_id": served.tasks["mark_image"], "args_parallel": {"sleep_time": 300}},
    ]


def _submit(served: Served, ids: dict[str, int]) -> dict[str, Any]:
    body = {"workflow_id": ids["workflow"], "dataset_id": ids["dataset"]}
    job: dict[str, Any] = served.server.ok(
        "POST", f"/projects/{ids['project']}/jobs", body, status=202
    )
    assert isinstance(job["id"], int) and job["working_dir"]
    return job


def _sleeping_units(job: dict[str, Any]) -> list[int]:
    """Live task processes of the job's sleeping mark_image units."""
    return processes_with_marker(job["working_dir"], 0, also="mark_image")


def _sleeping_job(served: Served, name: str) -> tuple[dict[str, int], dict[str, Any]]:
    """A new project's job whose two mark_image units are asleep."""
    ids = _project(served, name, _sleeping_steps(served))
    job = _submit(served, ids)
    assert job["status"] == "submitted"  # answered at once: its units sleep 300 s
    wait_for("the sleeping units", lambda: len(_sleeping_units(job)) == 2)
    return ids, job


def test_collecting_again_reuses_the_stored_group(served: Served) -> None:
    s = served.server
    again = s.ok("POST", "/task-groups/collect", {"wheel_path": str(served.wheel)}, 202)
    done = _activity_done(s, again["id"])
    assert done["status"] == "OK" and "already collected" in done["log"]
    assert done["taskgroupv2_id"] == served.group_id
    assert [g["id"] for g in s.ok("GET", "/task-groups")] == [served.group_id]


def test_workflow_runs_to_done_and_images_filter_and_page(served: Served) -> None:
    s, t = served.server, served.tasks
    steps = [
        {"task_id": t["create_images"], "args_non_parallel": {"num_images": 5}},
        {"task_id": t["mark_image"], "args_parallel": {"fail_on": []}},
        {"task_id": t["project_compound"], "args_non_parallel": {"suffix": "mip"}},
    ]
    ids = _project(served, "runs", steps)
    p, d = ids["project"], ids["dataset"]
    job = s.job_ended(p, _submit(served, ids)["id"])

    assert job["status"] == "done", s.ok("GET", f"/projects/{p}/jobs/{job['id']}/log")
    progress = {step["name"]: step for step in job["progress"]}
    assert list(progress) == ["create_images", "mark_image", "project_compound"]
    assert (
        progress["mark_image"]["units_done"],
        progress["mark_image"]["units_total"],
    ) == (5, 5)
    assert progress["project_compound"]["images_done"] == 5
    log = s.ok("GET", f"/projects/{p}/jobs/{job['id']}/log")
    assert "project_compound" in log and "End execution" in log

    query = f"/projects/{p}/datasets/{d}/images/query"
    everything = s.ok("POST", query)
    assert everything["total_count"] == 10  # 5 raw (3D) + 5 projections (2D)
    two_d = s.ok("POST", query, {"type_filters": {"3D": False}})
    assert two_d["total_count"] == 5
    assert all("plate_mip.zarr" in img["zarr_url"] for img in two_d["items"])
    assert all(img["types"]["3D"] is False for img in two_d["items"])
    chosen = {
        "attribute_filters": {"well": ["A02", "A04"]},
        "type_filters": {"3D": True},
    }
    wells = s.ok("POST", query, chosen)
    assert sorted(img["attributes"]["well"] for img in wells["items"]) == ["A02", "A04"]
    assert all(img["types"]["marked"] for img in wells["items"])
    pages = [s.ok("POST", f"{query}?page={n}&page_size=4") for n in (1, 2, 3, 4)]
    assert [len(page["items"]) for page in pages] == [4, 4, 2, 2]  # past the end: last
    assert [page["page"] for page in pages] == [1, 2, 3, 3]
    paged = [img["zarr_url"] for page in pages[:3] for img in page["items"]]
    assert paged == [img["zarr_url"] for img in everything["items"]]
    assert sorted(pages[0]["types"]) == ["3D", "marked"]  # whole dataset, not the page


def test_a_sleeping_job_is_cancelled_and_its_dataset_was_busy(served: Served) -> None:
    s = served.server
    ids, job = _sleeping_job(served, "cancel")
    p = ids["project"]
    running = s.ok("GET", f"/projects/{p}/jobs/{job['id']}")
    assert [(x["name"], x["status"]) for x in running["progress"]] == [
        ("create_images", "done"),
        ("mark_image", "submitted"),
    ]
    assert "mark_image" in s.ok("GET", f"/projects/{p}/jobs/{job['id']}/log")
    run = {"workflow_id": ids["workflow"], "dataset_id": ids["dataset"]}
    busy = s.call("POST", f"/projects/{p}/jobs", run)
    assert busy.status == 409 and busy.body["error"] == "DatasetBusyError"
    assert str(job["id"]) in busy.body["detail"]

    reason = {"reason": "enough of this"}
    stop = s.ok("POST", f"/projects/{p}/jobs/{job['id']}/stop", reason, status=202)

    assert stop == {"job_id": job["id"], "stop": "cancelled"}
    ended = s.job_ended(p, job["id"])
    assert ended["status"] == "failed" and ended["end_timestamp"] is not None
    assert "enough of this" in s.ok("GET", f"/projects/{p}/jobs/{job['id']}/log")
    assert processes_with_marker(job["working_dir"], also="mark_image") == []
    again = s.call("POST", f"/projects/{p}/jobs/{job['id']}/stop")
    assert again.status == 409 and again.body["error"] == "JobNotRunningError"
    images = s.ok("POST", f"/projects/{p}/datasets/{ids['dataset']}/images/query")
    assert images["total_count"] == 2  # the first task's images stay


def test_errors_are_404_409_and_422(served: Served) -> None:
    s, t = served.server, served.tasks
    ids = _project(served, "errors", [{"task_id": t["create_images"]}])
    p, d = ids["project"], ids["dataset"]
    other = s.ok("POST", "/projects", {"name": "errors 2"}, status=201)["id"]
    run = {"workflow_id": ids["workflow"], "dataset_id": d}
    images = f"/projects/{p}/datasets/{d}/images/query"
    nowhere = {"wheel_path": "/nowhere/x-1.0-py3-none-any.whl"}
    two_sources = {"wheel_path": str(served.wheel), "package": "fractal-tasks-core"}
    unknown_task = [{"task_id": t["create_images"]}, {"task_id": 999999}]
    wrong_side = [{"task_id": t["mark_image"], "args_non_parallel": {"x": 1}}]
    expected = [
        ("GET", "/projects/999999", None, 404, "NotFoundError"),
        ("GET", f"/projects/{p}/jobs/999999", None, 404, "NotFoundError"),
        ("GET", f"/projects/{other}/datasets/{d}", None, 404, "WrongParentError"),
        ("GET", "/task-groups/activities/999999", None, 404, "NotFoundError"),
        ("POST", "/projects", {"name": "errors"}, 409, "NameConflictError"),
        ("POST", f"{images}?page_size=0", None, 422, "PaginationError"),
        ("POST", f"/projects/{p}/jobs", {**run, "first_task_index": 3}, 422,
         "InvalidTaskRangeError"),
        ("POST", f"/projects/{p}/jobs", {**run, "first_task_index": 1,
         "last_task_index": 0}, 422, "ValidationError"),
        ("POST", "/task-groups/collect", nowhere, 422, "InvalidCollectionRequest"),
        ("POST", "/task-groups/collect", two_sources, 422, "ValidationError"),
        ("POST", f"/projects/{p}/workflows", {"name": "w", "tasks": unknown_task},
         404, "NotFoundError"),
        ("POST", f"/projects/{p}/workflows", {"name": "w", "tasks": wrong_side},
         422, "WorkflowTaskArgumentsError"),
    ]  # fmt: skip
    answers = [s.call(method, path, body) for method, path, body, _, _ in expected]
    assert [(a.status, a.body["error"]) for a in answers] == [
        (status, error) for *_, status, error in expected
    ]
    assert "999999" in answers[0].body["detail"]
    # the refused workflows left nothing behind: the name is still free
    s.ok("POST", f"/projects/{p}/workflows", {"name": "w"}, status=201)


def test_a_job_of_a_killed_server_is_failed_after_the_restart(served: Served) -> None:
    s = served.server
    ids, job = _sleeping_job(served, "killed")
    p = ids["project"]

    old_pid = s.kill()
    assert len(_sleeping_units(job)) == 2  # orphaned, still running
    s.start()

    health = s.ok("GET", "/health")
    assert health["recovered_jobs"] == [job["id"]]
    recovered = s.ok("GET", f"/projects/{p}/jobs/{job['id']}")
    assert recovered["status"] == "failed" and recovered["end_timestamp"] is not None
    log = s.ok("GET", f"/projects/{p}/jobs/{job['id']}/log")
    assert f"pid {old_pid}" in log
    assert processes_with_marker(job["working_dir"], also="mark_image") == []
    images = s.ok("POST", f"/projects/{p}/datasets/{ids['dataset']}/images/query")
    assert images["total_count"] == 2 and not any(
        img["types"].get("marked") for img in images["items"]
    )
    # the dataset is free again: a new job on it is accepted and runs
    fresh = _submit(served, ids)
    stop = s.ok("POST", f"/projects/{p}/jobs/{fresh['id']}/stop", status=202)
    assert stop["stop"] == "cancelled"
    assert s.job_ended(p, fresh["id"])["status"] == "failed"


def test_a_graceful_shutdown_cancels_the_running_jobs(served: Served) -> None:
    s = served.server
    ids, job = _sleeping_job(served, "shutdown")
    p = ids["project"]

    assert s.stop() in (0, -signal.SIGTERM)
    assert _sleeping_units(job) == []  # cancelled before the process ended
    s.start()

    assert s.ok("GET", "/health")["recovered_jobs"] == []  # nothing left to recover
    ended = s.ok("GET", f"/projects/{p}/jobs/{job['id']}")
    assert ended["status"] == "failed" and ended["end_timestamp"] is not None
    log = s.ok("GET", f"/projects/{p}/jobs/{job['id']}/log")
    assert "the web backend is shutting down" in log
