"""The sbatch script: its lines, its quoting, and running it with a stand-in srun."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fractal_core.executors.slurm import UNIT_EXIT_MARKER
from fractal_core.executors.slurm import SlurmConfig
from fractal_core.executors.slurm import SlurmConfigError
from fractal_core.executors.slurm import SlurmJobSpec
from fractal_core.executors.slurm import sbatch_script

HANG_GUARD_S = 120
SHELLS = [shell for shell in ("sh", "bash") if shutil.which(shell)]

# A stand-in for `srun`: it appends its own options (up to the first word that is
# not an option) to $FAKE_SRUN_LOG, one line per call, then runs the unit's argv
# in its place. Nothing else of SLURM is needed to run a generated script.
FAKE_SRUN = """#!/bin/sh
opts=""
while [ $# -gt 0 ]; do
    case "$1" in
        --*) opts="$opts $1"; shift ;;
        *) break ;;
    esac
done
echo "$opts" >> "$FAKE_SRUN_LOG"
exec "$@"
"""

# A unit that records how many units run at the same time: it marks itself
# running, counts the marks, and the first P units wait (hang-guarded) until one
# of them has seen P marks at once (then writes `full`), which only happens if P
# units really run together.
PROBE = """#!/bin/sh
dir=$1; i=$2; p=$3
touch "$dir/run.$i"
ls "$dir" | grep -c '^run[.]' > "$dir/seen.$i"
if [ "$i" -lt "$p" ]; then
    k=0
    while [ ! -e "$dir/full" ]; do
        if [ "$(ls "$dir" | grep -c '^run[.]')" -ge "$p" ]; then
            touch "$dir/full"
        fi
        sleep 0.05
        k=$((k + 1))
        if [ "$k" -gt 2000 ]; then exit 3; fi
    done
fi
rm "$dir/run.$i"
touch "$dir/done.$i"
"""


def _config(**values: Any) -> SlurmConfig:
    base: dict[str, Any] = dict(
        partition="main",
        cpus_per_task=2,
        mem_per_task_MB=100,
        target_cpus_per_job=1,
        max_cpus_per_job=1,
        target_mem_per_job=1,
        max_mem_per_job=1,
        target_num_jobs=1,
        max_num_jobs=1,
        parallel_tasks_per_job=2,
    )
    return SlurmConfig(**{**base, **values})


def _spec(config: SlurmConfig | None = None, **values: Any) -> SlurmJobSpec:
    base: dict[str, Any] = dict(
        name="job",
        config=config or _config(),
        commands=[["echo", "one"], ["echo", "two"]],
        log_out="/work/job-%j.out",
        log_err="/work/job-%j.err",
        workdir="/work",
        parallel=2,
    )
    return SlurmJobSpec(**{**base, **values})


def _directives(script: str, prefix: str = "#SBATCH") -> list[str]:
    return [line for line in script.splitlines() if line.startswith(prefix)]


def _sbatch_values(script: str) -> dict[str, str]:
    """What sbatch reads from the `#SBATCH --key=value` lines (same quote rules)."""
    values = {}
    for line in _directives(script):
        for word in shlex.split(line[len("#SBATCH") :]):
            key, _, value = word.partition("=")
            values[key] = value
    return values


def test_lines_in_the_reference_order() -> None:
    """The reference's order (spec executors.md §6.2), every option set."""
    config = _config(
        constraint="c",
        gres="gpu:1",
        gpus="1",
        time="10",
        account="lab",
        exclude="n2",
        nodelist="n1",
        nodes=1,
        extra_lines=["module load x", "#SBATCH --qos=high"],
        pre_submission_commands=["source env.sh"],
        user_local_exports={"CELLPOSE_LOCAL_MODELS_PATH": "cellpose"},
    )
    script = sbatch_script(_spec(config, export_dir="/cache", env={"A": "1"}))
    lines = script.splitlines()
    assert lines[:21] == [
        "#!/bin/sh",
        "#SBATCH --partition=main",
        "#SBATCH --ntasks=2",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=200M",
        "#SBATCH --job-name=job",
        "#SBATCH --constraint=c",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --gpus=1",
        "#SBATCH --time=10",
        "#SBATCH --account=lab",
        "#SBATCH --exclude=n2",
        "#SBATCH --nodelist=n1",
        "#SBATCH --nodes=1",
        "#SBATCH --qos=high",
        "#SBATCH --error=/work/job-%j.err",
        "#SBATCH --output=/work/job-%j.out",
        "#SBATCH --chdir=/work",
        "module load x",
        "source env.sh",
        "export CELLPOSE_LOCAL_MODELS_PATH=/cache/cellpose",
    ]
    assert lines[21] == "export A=1"
    assert "fractal_unit 0 echo one &" in lines
    assert "fractal_unit 1 echo two &" in lines
    assert "srun --ntasks=1 --cpus-per-task=2 --mem=100M" in script
    assert lines[-2:] == ["wait", 'echo "End time: $(date +"%Y-%m-%dT%H:%M:%S%z")"']
    assert "mkfifo" not in script  # no queue: as many slots as units


def test_exports_with_or_without_trailing_slash() -> None:
    """Mirrors the reference's `test_slurm_config.py::test_SlurmConfig`."""
    config = _config(user_local_exports={"CELLPOSE_LOCAL_MODELS_PATH": "cellpose"})
    for export_dir in ("/cache/dir", "/cache/dir/"):
        script = sbatch_script(_spec(config, export_dir=export_dir))
        assert "export CELLPOSE_LOCAL_MODELS_PATH=/cache/dir/cellpose" in script
    with pytest.raises(SlurmConfigError, match="export_dir"):
        sbatch_script(_spec(config))


def test_slots_memory_and_job_name() -> None:
    one = sbatch_script(_spec(commands=[["true"]]))
    assert "#SBATCH --ntasks=1" in one and "#SBATCH --mem=100M" in one
    per_cpu = sbatch_script(
        _spec(_config(mem_option="mem-per-cpu", mem_per_task_MB=101))
    )
    assert "#SBATCH --mem-per-cpu=51M" in per_cpu  # ceil(101 / 2)
    assert "--mem-per-cpu=51M" in per_cpu.split("fractal_unit() {")[1]
    assert "#SBATCH --mem=" not in per_cpu
    queued = sbatch_script(_spec(commands=[["true"]] * 5, parallel=3))
    assert "#SBATCH --ntasks=3" in queued and "#SBATCH --mem=300M" in queued
    assert "mkfifo" in queued
    named = sbatch_script(_spec(_config(job_name="from_config"), name=""))
    assert "#SBATCH --job-name=from_config" in named
    anonymous = sbatch_script(_spec(name=""))
    assert "--job-name" not in anonymous
    custom = sbatch_script(_spec(_config(shebang_line="#!/bin/bash", prefix="#SBATCH")))
    assert custom.startswith("#!/bin/bash\n")


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"parallel": 0}, "parallel=0"),
        ({"commands": []}, "commands"),
        ({"commands": [[]]}, "commands\\[0\\]"),
        ({"commands": [["a\x00b"]]}, "commands\\[0\\]"),
        ({"workdir": "relative"}, "workdir"),
        ({"name": "job\nrm -rf /"}, "job-name"),
        ({"log_out": "/x\n/y"}, "log_out"),
        ({"log_err": "/x\\y"}, "log_err"),
        ({"env": {"A B": "x"}}, "env name"),
    ],
)
def test_invalid_specs_are_refused(values: dict[str, Any], match: str) -> None:
    with pytest.raises(SlurmConfigError, match=match):
        sbatch_script(_spec(**values))


def _write_tools(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text(FAKE_SRUN)
    srun.chmod(0o755)
    probe = tmp_path / "probe.sh"
    probe.write_text(PROBE)
    probe.chmod(0o755)
    return bin_dir, probe


def _run(script: str, shell: str, tmp_path: Path, bin_dir: Path) -> str:
    path = tmp_path / "job.sh"
    path.write_text(script)
    check = subprocess.run(
        [shell, "-n", str(path)], capture_output=True, text=True, timeout=HANG_GUARD_S
    )
    assert check.returncode == 0, check.stderr
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_SRUN_LOG": str(tmp_path / "srun.log"),
    }
    done = subprocess.run(
        [shell, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("n_units", "parallel"), [(7, 2), (5, 1), (3, 3), (2, 4)])
def test_units_run_parallel_at_a_time_and_all_complete(
    tmp_path: Path, shell: str, n_units: int, parallel: int
) -> None:
    """With a stand-in srun, `parallel` units really run together (the probe's
    barrier would hang otherwise), never more, and every unit completes."""
    bin_dir, probe = _write_tools(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    slots = min(parallel, n_units)
    commands = [[str(probe), str(marks), str(i), str(slots)] for i in range(n_units)]
    script = sbatch_script(_spec(commands=commands, parallel=parallel))
    stdout = _run(script, shell, tmp_path, bin_dir)

    assert sorted(p.name for p in marks.glob("done.*")) == sorted(
        f"done.{i}" for i in range(n_units)
    )
    seen = [int((marks / f"seen.{i}").read_text()) for i in range(n_units)]
    assert max(seen) <= slots
    assert (marks / "full").exists()  # `slots` units ran at the same time
    assert not list(marks.glob("run.*"))
    exits = sorted(line for line in stdout.splitlines() if line.startswith("fractal"))
    assert exits == sorted(f"{UNIT_EXIT_MARKER} {i} exit 0" for i in range(n_units))
    srun_calls = (tmp_path / "srun.log").read_text().splitlines()
    assert srun_calls == [" --ntasks=1 --cpus-per-task=2 --mem=100M"] * n_units


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failing_unit_is_reported_and_the_others_run(
    tmp_path: Path, shell: str
) -> None:
    bin_dir, _ = _write_tools(tmp_path)
    commands = [["true"], ["sh", "-c", "exit 7"], ["true"]]
    stdout = _run(
        sbatch_script(_spec(commands=commands, parallel=1)), shell, tmp_path, bin_dir
    )
    assert f"{UNIT_EXIT_MARKER} 1 exit 7" in stdout.splitlines()
    assert f"{UNIT_EXIT_MARKER} 0 exit 0" in stdout.splitlines()
    assert f"{UNIT_EXIT_MARKER} 2 exit 0" in stdout.splitlines()


HOSTILE = [
    "; touch PWNED1",
    "$(touch PWNED2)",
    "`touch PWNED3`",
    "a'b\"c",
    "line\n touch PWNED4",
    "&& touch PWNED5 #",
    "${HOME}",
    "*",
]


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_strings_are_only_ever_quoted(tmp_path: Path, shell: str) -> None:
    """Hostile text in the job name, paths, export values, env and argv: the script
    parses, running it creates no PWNED file, each argv arrives byte for byte, and
    sbatch (same quoting rules in `#SBATCH` lines) reads back the original values."""
    bin_dir, _ = _write_tools(tmp_path)
    printer = tmp_path / "printer.py"
    printer.write_text(
        "import json, sys\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[2:]) + '\\n')\n"
    )
    out = tmp_path / "argv.jsonl"
    commands = [[sys.executable, str(printer), str(out), text] for text in HOSTILE]
    one_line = [text for text in HOSTILE if "\n" not in text]
    config = _config(
        user_local_exports={"X": "; touch PWNED6"},
        extra_lines=["#SBATCH --mail-user=$(touch PWNED7)"],
        account="$(touch PWNED8)",
    )
    spec = _spec(
        config,
        name=one_line[0],
        commands=commands,
        log_out=f"/tmp/{one_line[1]}/out",
        log_err=f"/tmp/{one_line[2]}/err",
        workdir=f"/tmp/{one_line[3]}",
        export_dir="/tmp/$(touch PWNED9)",
        env={"FRACTAL_CACHE_DIR": "$(touch PWNED10)\n; touch PWNED11"},
        parallel=3,
    )
    script = sbatch_script(spec)
    _run(script, shell, tmp_path, bin_dir)

    assert not list(tmp_path.rglob("PWNED*"))
    received = sorted(out.read_text().splitlines())
    assert sorted(json.loads(line)[0] for line in received) == sorted(HOSTILE)
    values = _sbatch_values(script)
    assert values["--job-name"] == one_line[0]
    assert values["--output"] == f"/tmp/{one_line[1]}/out"
    assert values["--error"] == f"/tmp/{one_line[2]}/err"
    assert values["--chdir"] == f"/tmp/{one_line[3]}"
    assert values["--account"] == "$(touch PWNED8)"
    # the export values reach the environment unchanged
    env_dump = tmp_path / "env.txt"
    probe_spec = _spec(
        config,
        commands=[
            ["sh", "-c", f'printf "%s|%s" "$X" "$FRACTAL_CACHE_DIR" > {env_dump}']
        ],
        export_dir="/tmp/$(touch PWNED9)",
        env={"FRACTAL_CACHE_DIR": "$(touch PWNED10)\n; touch PWNED11"},
    )
    _run(sbatch_script(probe_spec), shell, tmp_path, bin_dir)
    assert env_dump.read_text() == (
        "/tmp/$(touch PWNED9)/; touch PWNED6|$(touch PWNED10)\n; touch PWNED11"
    )
    assert not list(tmp_path.rglob("PWNED*"))


def test_on_the_real_cluster(slurm_cluster: Any, slurm_workdir: Path) -> None:
    """sbatch accepts the script, reads quoted `#SBATCH` values literally (a job
    name with spaces, `;` and `$(...)`), and runs every unit through the real
    srun with the in-job queue (4 units, 2 slots). Skipped without the cluster."""
    name = "fractal test; $(touch PWNED) 'q'"
    marks = slurm_workdir / "marks"
    marks.mkdir()
    marks.chmod(0o777)
    commands = [
        ["sh", "-c", 'touch "$0/unit.$1"', str(marks), str(i)] for i in range(4)
    ]
    config = _config(
        partition=slurm_cluster.partition,
        cpus_per_task=1,
        parallel_tasks_per_job=2,
    )
    script_path = slurm_workdir / "job.sh"
    script_path.write_text(
        sbatch_script(
            _spec(
                config,
                name=name,
                commands=commands,
                log_out=str(slurm_workdir / "job-%j.out"),
                log_err=str(slurm_workdir / "job-%j.err"),
                workdir=str(slurm_workdir),
                parallel=2,
            )
        )
    )
    job_id = slurm_cluster.run(["sbatch", "--parsable", str(script_path)]).strip()
    job_id = job_id.split(";")[0]
    info = slurm_cluster.wait_finished(job_id, timeout=HANG_GUARD_S)
    stdout = (slurm_workdir / f"job-{job_id}.out").read_text()
    assert info["JobState"] == "COMPLETED", (info, stdout)
    assert info["NumTasks"] == "2"
    job_name = slurm_cluster.run(["squeue", "-h", "-j", job_id, "-o", "%j"]).strip()
    assert job_name in ("", name)  # gone from the queue, or exactly the name
    assert name in slurm_cluster.run(["scontrol", "show", "job", job_id])
    assert sorted(p.name for p in marks.iterdir()) == [f"unit.{i}" for i in range(4)]
    exits = [line for line in stdout.splitlines() if line.startswith(UNIT_EXIT_MARKER)]
    assert sorted(exits) == [f"{UNIT_EXIT_MARKER} {i} exit 0" for i in range(4)]
    assert not list(slurm_workdir.rglob("PWNED"))
