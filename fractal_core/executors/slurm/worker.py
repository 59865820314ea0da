"""What runs on the compute node for one unit: a fixed `sh` wrapper, no Python.

The cluster needs nothing of fractal_core: each unit's line in the sbatch
script is `env K=V ... sh -c WRAPPER fractal-unit STATUS INDEX LOG DIR LIMIT
GRACE <task argv>`. `WRAPPER` is a constant; every value (paths, the task's
argv, its environment) reaches it as a separate argument, so no user text is
ever parsed by a shell. It

1. writes `STATUS/INDEX.start` (`<epoch> <job>.<step>`),
2. runs the task with stdout and stderr into `LOG` (in `DIR` unless `-`),
   under `timeout -k GRACE LIMIT` when the unit has a time limit, in a
   session of its own (`setsid`); when SLURM stops the step (scancel, job
   time limit) the wrapper gets SIGTERM, passes it to that whole session and
   SIGKILLs the session GRACE seconds later. Without cgroups SLURM finds a
   step's processes by parentage, so a child that outlives its parent would
   escape SLURM's own SIGKILL: the session kill catches it (GRACE must stay
   below the cluster's `KillWait`),
3. writes `STATUS/INDEX.rc` (`<exit code> <start epoch> <end epoch>`)
   atomically (a temporary file renamed).

A unit killed with its job (scancel, SLURM time limit, memory kill) leaves a
start file and no exit file; a unit that never started leaves neither, and no
log: that is how "cancelled before it started" is told apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence

from ..base import ExecutorError

WRAPPER = r"""st=$1 i=$2 log=$3 dir=$4 limit=$5 grace=$6
shift 6
s=$(date +%s.%N)
printf '%s %s\n' "$s" "${SLURM_JOB_ID:--}.${SLURM_STEP_ID:--}" > "$st/$i.start"
if [ "$dir" != - ] && ! cd -- "$dir" 2>/dev/null; then
  printf 'cannot enter the unit folder %s\n' "$dir" > "$log"
  rc=1
else
  if [ -n "$limit" ]; then
    set -- timeout -k "$grace" "$limit" "$@"
  fi
  pid=
  fractal_stop() {
    if [ -n "$pid" ]; then
      kill -TERM "-$pid"
      sleep "$grace"
      kill -KILL "-$pid"
    fi 2>/dev/null
    exit 143
  }
  trap fractal_stop TERM INT HUP
  setsid "$@" > "$log" 2>&1 &
  pid=$!
  wait "$pid"
  rc=$?
fi
printf '%s %s %s\n' "$rc" "$s" "$(date +%s.%N)" > "$st/$i.rc.tmp"
mv -f -- "$st/$i.rc.tmp" "$st/$i.rc"
exit 0
"""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STATUS_NAME = re.compile(r"(\d+)\.(start|rc)")


def unit_argv(
    task_argv: Sequence[str],
    *,
    status_dir: str,
    index: int,
    log_file: str,
    workdir: str | None = None,
    time_limit_s: float | None = None,
    kill_grace_s: float = 5.0,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """The argument list that runs one unit on the compute node (see module doc).

    Raises `ExecutorError` for an environment name that is not a shell
    identifier or a value holding a NUL byte.
    """
    prefix: list[str] = []
    if env:
        prefix.append("env")
        for key, value in env.items():
            if not _ENV_NAME.fullmatch(key):
                raise ExecutorError(
                    f"Invalid environment variable name {key!r}: expected "
                    "[A-Za-z_][A-Za-z0-9_]*."
                )
            if "\x00" in value:
                raise ExecutorError(f"Invalid value of environment variable {key}.")
            prefix.append(f"{key}={value}")
    limit = "" if time_limit_s is None else f"{time_limit_s:g}"
    return [
        *prefix,
        "sh",
        "-c",
        WRAPPER,
        "fractal-unit",
        status_dir,
        str(index),
        log_file,
        workdir or "-",
        limit,
        f"{kill_grace_s:g}",
        *task_argv,
    ]


def parse_status_listing(text: str) -> dict[int, dict[str, str]]:
    """`{index: {"start": text, "rc": text}}` from `grep -r -H '' DIR` output.

    Lines look like `DIR/3.rc:0 1700000000.1 1700000001.2`; the content never
    holds a colon, so the name is what precedes the last one (DIR may hold
    colons). Names that are not a unit's start or exit file are skipped.
    """
    found: dict[int, dict[str, str]] = {}
    for line in text.splitlines():
        name, sep, content = line.rpartition(":")
        if not sep:
            continue
        match = STATUS_NAME.fullmatch(name.rsplit("/", 1)[-1])
        if match is None:
            continue
        found.setdefault(int(match.group(1)), {})[match.group(2)] = content
    return found
