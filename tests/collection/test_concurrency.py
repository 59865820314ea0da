"""Two processes collect the same package at once: one waits, both end consistent.

Chosen behaviour: the process that gets the lock second finds the folder already
there, with the first one's record, and reuses that group ("already collected
at ..."); with `if_exists="error"` it ends with a failed activity ("... already
exists."). Either way the first one's environment is untouched. (A process that
starts after the folder exists decides before it even takes the lock.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fractal_core.collection import CollectionSettings
from fractal_core.collection.locking import task_group_lock

from .conftest import child_env
from .helpers import make_wheel
from .helpers import manifest

CHILD = """
import json, sys, pathlib
from fractal_core.collection import CollectionSettings, collect_wheel
settings = CollectionSettings.model_validate_json(sys.argv[1])
trace = pathlib.Path(sys.argv[3])
def on_change(a):
    trace.write_text(a.log or "")
try:
    res = collect_wheel(sys.argv[2], settings=settings, on_change=on_change,
                        if_exists=sys.argv[4])
    print(json.dumps({"status": str(res.activity.status), "log": res.activity.log,
                      "tasks": len(res.task_group.task_list) if res.task_group else 0}))
except Exception as e:
    print(json.dumps({"status": "raised", "log": f"{type(e).__name__}: {e}"}))
"""


@pytest.mark.parametrize("if_exists", ["reuse", "error"])
def test_concurrent_collection_of_the_same_package(
    settings: CollectionSettings, tmp_path: Path, if_exists: str
) -> None:
    wheel = make_wheel(tmp_path / "w", manifest_data=manifest("t1"))
    folder = Path(settings.base_dir) / "tiny-tasks" / "1.0.0"
    traces = [tmp_path / f"trace{i}.txt" for i in range(2)]
    # Hold the folder's lock so that both children pass the early checks and
    # queue on the lock; then let them race.
    with task_group_lock(str(folder)):
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    settings.model_dump_json(),
                    str(wheel),
                    str(trace),
                    if_exists,
                ],
                stdout=subprocess.PIPE,
                text=True,
                env=child_env(),
            )
            for trace in traces
        ]
        deadline = time.monotonic() + 120
        while not all(
            t.exists() and "Waiting for the lock" in t.read_text() for t in traces
        ):
            assert time.monotonic() < deadline, "children never queued on the lock"
            assert all(c.poll() is None for c in children), "a child exited early"
            time.sleep(0.05)
    outcomes = [json.loads(c.communicate(timeout=600)[0]) for c in children]
    statuses = sorted(o["status"] for o in outcomes)
    built = [o for o in outcomes if "START create venv" in o["log"]]
    assert len(built) == 1, outcomes
    winner = built[0]
    loser = next(o for o in outcomes if o is not winner)
    assert winner["status"] == "OK" and winner["tasks"] == 1
    if if_exists == "reuse":
        assert statuses == ["OK", "OK"], outcomes
        assert f"already collected at {folder}" in loser["log"]
        assert loser["tasks"] == 1
    else:
        assert statuses == ["OK", "failed"], outcomes
        assert f"{folder} already exists." in loser["log"]
    # The winner's environment is intact and usable.
    python = folder / "venv" / "bin" / "python"
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import tiny_tasks, os; print(os.path.dirname(tiny_tasks.__file__))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().startswith(str(folder))
