"""The sbatch script of one SLURM job (a pure function of a `SlurmJobSpec`).

The script runs every unit of the job as its own job step,
`srun --ntasks=1 --cpus-per-task=C --mem=<MB>M <argv>`, at most `parallel` at a
time. Units beyond the free slots wait *inside the script* for a slot: a FIFO
holds one token per slot, a unit takes one before its step starts and gives it
back when the step ends. (The reference starts every `srun` at once and lets
SLURM's step scheduler hold the surplus back, which keeps one blocked `srun`
process per queued unit and fills the job's stderr with "step creation
temporarily disabled" lines.) After each step the script prints
`fractal-unit <index> exit <code>` to the job's stdout, `<index>` being the
unit's position in `SlurmJobSpec.commands`; the script itself ends with status 0
(a unit's outcome is in its own files), as the reference's does.

The script is POSIX sh (the default `#!/bin/sh` is dash on Debian). Every value
from the configuration or the spec is written through `shlex.quote`: in
`#SBATCH` lines (which sbatch reads with the same quotes) and in shell lines.
Values that cannot be made safe that way are refused by `SlurmConfig` and
`SlurmJobSpec` (a newline, NUL or other control character, or a backslash in an
`#SBATCH` value). `extra_lines` that are not directives and
`pre_submission_commands` are shell code by design (`module load ...`), written
as they are and run as the job's user.

With `SlurmJobSpec.marker` (a path on the host named after the job's submission
token, `submission.py`), the script's first action is to leave evidence that
the job started: it writes `$SLURM_JOB_ID` to the marker (a temporary file
renamed into place, so a reader sees all of it or nothing), and exits 1 without
running a unit when it cannot. A marker that already names *another* job means
a job carrying the same token started first: this one then runs nothing and
says so on its stderr (a requeued job finds its own id and runs again).

Lines, in order: the shebang; `--partition`, `--ntasks`, `--cpus-per-task`,
`--mem` (or `--mem-per-cpu`); `--job-name`, `--constraint`, `--gres`, `--gpus`,
`--time`, `--account`, `--exclude`, `--nodelist`, `--nodes` when set; the `#SBATCH`
extra lines; `--error`, `--output`, `--chdir`; the start marker; the other extra
lines; the `pre_submission_commands`; the `user_local_exports`
(`export KEY=<export_dir>/<value>`) and the spec's `env`; the host, folder and
start time; the units; `wait`; the end time.
"""

from __future__ import annotations

import logging
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from .batching import job_resources
from .config import SlurmConfig
from .memory import SlurmConfigError

__all__ = ["UNIT_EXIT_MARKER", "SlurmJobSpec", "marker_lines", "sbatch_script"]

logger = logging.getLogger(__name__)

UNIT_EXIT_MARKER = "fractal-unit"
"""Start of the `fractal-unit <index> exit <code>` lines in the job's stdout."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DATE = '$(date +"%Y-%m-%dT%H:%M:%S%z")'


@dataclass(frozen=True)
class SlurmJobSpec:
    """One SLURM job: its configuration, units and files as the cluster sees them.

    `name` is the job name (`--job-name`; empty means `config.job_name`).
    `commands` holds one argv per unit, run as it is on a compute node.
    `log_out`, `log_err` (SLURM's `%j` and other patterns allowed) and `workdir`
    are paths on the cluster. `parallel` bounds how many units run at once; the
    job asks for `min(parallel, len(commands))` slots. `export_dir` is the
    folder `config.user_local_exports` values are relative to (the user's cache
    folder); `env` adds `export KEY=VALUE` lines (e.g. `FRACTAL_CACHE_DIR`).
    `marker` (absolute, on the host) is where the job records its id as it
    starts (see the module doc); None writes no marker.
    """

    name: str
    config: SlurmConfig
    commands: list[list[str]]
    log_out: str
    log_err: str
    workdir: str
    parallel: int
    export_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    marker: str | None = None


def _directive_value(key: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise SlurmConfigError(f"Invalid {key}={value!r}: expected a non-empty string.")
    if _CONTROL.search(value) or "\\" in value:
        raise SlurmConfigError(
            f"Invalid {key}={value!r}: control characters and backslashes cannot "
            "be written into an #SBATCH line."
        )
    return shlex.quote(value)


def _check_spec(spec: SlurmJobSpec) -> None:
    if not isinstance(spec.config, SlurmConfig):
        raise SlurmConfigError(
            f"Invalid config={spec.config!r}: expected a SlurmConfig."
        )
    parallel = spec.parallel
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise SlurmConfigError(f"Invalid parallel={parallel!r}: expected an int >= 1.")
    if not spec.commands:
        raise SlurmConfigError("Invalid commands=[]: a SLURM job needs a unit.")
    for index, argv in enumerate(spec.commands):
        if (
            not isinstance(argv, list | tuple)
            or not argv
            or not all(isinstance(word, str) and "\x00" not in word for word in argv)
        ):
            raise SlurmConfigError(
                f"Invalid commands[{index}]={argv!r}: expected a non-empty list of "
                "strings without NUL characters."
            )
    if spec.marker is not None and (
        not isinstance(spec.marker, str)
        or not spec.marker.startswith("/")
        or _CONTROL.search(spec.marker)
    ):
        raise SlurmConfigError(
            f"Invalid marker={spec.marker!r}: expected an absolute path without "
            "control characters."
        )
    if not spec.workdir.startswith("/"):
        raise SlurmConfigError(
            f"Invalid workdir={spec.workdir!r}: expected an absolute path."
        )
    for key, value in spec.env.items():
        if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
            raise SlurmConfigError(
                f"Invalid env name {key!r}: expected a shell identifier."
            )
        if not isinstance(value, str) or "\x00" in value:
            raise SlurmConfigError(
                f"Invalid env value {key}={value!r}: expected a string without NUL."
            )
    if spec.config.user_local_exports and not spec.export_dir:
        raise SlurmConfigError(
            "Invalid export_dir=None: the configuration has user_local_exports "
            f"{sorted(spec.config.user_local_exports)}, which need a folder."
        )


def marker_lines(marker: str) -> list[str]:
    """Shell lines recording the job's start in `marker` (module doc).

    Run first, so a job that ran leaves this evidence even when SLURM forgets
    it; a marker naming another job stops this one before any unit.
    """
    return [
        f"fractal_marker={shlex.quote(marker)}",
        'if [ -e "$fractal_marker" ] && '
        '[ "$(cat "$fractal_marker")" != "$SLURM_JOB_ID" ]; then',
        '    echo "fractal: job $SLURM_JOB_ID runs nothing: job '
        '$(cat "$fractal_marker") carrying the same submission token already '
        'started ($fractal_marker)" >&2',
        "    exit 0",
        "fi",
        'printf \'%s\\n\' "$SLURM_JOB_ID" > "$fractal_marker.$SLURM_JOB_ID" &&',
        '    mv -f "$fractal_marker.$SLURM_JOB_ID" "$fractal_marker" || exit 1',
    ]


def sbatch_script(spec: SlurmJobSpec) -> str:
    """The text of the sbatch script for `spec` (see the module docstring).

    Raises `SlurmConfigError` naming a value that cannot be written safely.
    """
    _check_spec(spec)
    config = spec.config
    prefix = config.prefix
    res = job_resources(config, len(spec.commands), parallel=spec.parallel)
    ntasks = res.ntasks
    mem_opt = f"--{res.mem_option}"
    lines = [
        config.shebang_line,
        f"{prefix} --partition={_directive_value('partition', config.partition)}",
        f"{prefix} --ntasks={ntasks}",
        f"{prefix} --cpus-per-task={res.cpus_per_task}",
        f"{prefix} {mem_opt}={res.job_mem_value_mb}M",
    ]
    name = spec.name or config.job_name
    optional: list[tuple[str, str | None]] = [
        ("job-name", name),
        ("constraint", config.constraint),
        ("gres", config.gres),
        ("gpus", config.gpus),
        ("time", config.time),
        ("account", config.account),
        ("exclude", config.exclude),
        ("nodelist", config.nodelist),
        ("nodes", None if config.nodes is None else str(config.nodes)),
    ]
    for option, value in optional:
        if value is not None:
            lines.append(f"{prefix} --{option}={_directive_value(option, value)}")
    lines.extend(config.directive_extra_lines())
    lines.append(f"{prefix} --error={_directive_value('log_err', spec.log_err)}")
    lines.append(f"{prefix} --output={_directive_value('log_out', spec.log_out)}")
    lines.append(f"{prefix} --chdir={_directive_value('workdir', spec.workdir)}")
    if spec.marker is not None:
        lines.extend(marker_lines(spec.marker))
    lines.extend(config.shell_extra_lines())
    lines.extend(config.pre_submission_commands)
    for key, value in config.user_local_exports.items():
        path = posixpath.join(spec.export_dir or "", value)
        lines.append(f"export {key}={shlex.quote(path)}")
    for key, value in spec.env.items():
        lines.append(f"export {key}={shlex.quote(value)}")
    if config.time is not None and len(spec.commands) > ntasks:
        logger.warning(
            "SLURM time=%s covers the whole job, whose %d units run %d at a time",
            config.time,
            len(spec.commands),
            ntasks,
        )

    lines += [
        "",
        'echo "Hostname: $(uname -n)"',
        'echo "Current directory: $(pwd)"',
        f'echo "Start time: {_DATE}"',
        "",
        "fractal_unit() {",
        "    fractal_index=$1",
        "    shift",
        f"    srun --ntasks=1 --cpus-per-task={res.cpus_per_task} "
        f'{mem_opt}={res.step_mem_value_mb}M "$@" 3>&-',
        "    fractal_rc=$?",
        f'    echo "{UNIT_EXIT_MARKER} $fractal_index exit $fractal_rc"',
        "}",
    ]
    units = [
        f"{index} {shlex.join(list(argv))}" for index, argv in enumerate(spec.commands)
    ]
    if len(units) <= ntasks:
        lines += [f"fractal_unit {unit} &" for unit in units]
    else:
        lines += [
            "# in-job queue: one token per slot in a FIFO; a unit takes one to start",
            "fractal_slots=$(mktemp -d) || exit 1",
            'mkfifo "$fractal_slots/slots" || exit 1',
            'exec 3<>"$fractal_slots/slots"',
            'rm -rf "$fractal_slots"',
            "fractal_free=0",
            f'while [ "$fractal_free" -lt {ntasks} ]; do',
            "    echo >&3",
            "    fractal_free=$((fractal_free + 1))",
            "done",
            "fractal_start() {",
            "    read -r fractal_token <&3",
            '    { fractal_unit "$@"; echo >&3; } &',
            "}",
        ]
        lines += [f"fractal_start {unit}" for unit in units]
    lines += ["wait", f'echo "End time: {_DATE}"', ""]
    return "\n".join(lines)
