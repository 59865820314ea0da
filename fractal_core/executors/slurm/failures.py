"""Reading SLURM's answers and classifying each unit's outcome (pure functions).

Nothing here runs a command or touches a file: the watcher and the executor
hand in the text that `squeue`, `sacct`, `scontrol` and the jobcomp file
printed, the content of a job's error file and what the unit wrapper recorded,
and get back typed values.

How a unit is judged (`classify_unit`):

1. The unit wrapper wrote an exit status: the unit ran to its end. Exit 0 is a
   success (the caller then reads the output file); a non-zero code is
   `NONZERO_EXIT`, unless our own per-unit time limit killed it (`TIME_LIMIT`)
   or the job's error file says its step exceeded its memory (`OUT_OF_MEMORY`).
2. No exit status: the unit's process was killed or never started, so the
   job's final state decides, with the error file as evidence. Without cgroups
   SLURM reports a memory kill as `FAILED` (or even `COMPLETED` when only one
   step was killed), so the lines "exceeded memory limit" and "Exceeded job
   memory limit" count as out-of-memory whatever the state says.
3. A unit that never started in a cancelled job is "cancelled before it
   started" — also when the job was pending and SLURM wrote no file at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from ..base import FailureKind

# Job states after which a job will not run again (squeue's manual, "JOB STATE
# CODES"); PREEMPTED and NODE_FAIL jobs may be requeued by the site, in which
# case squeue shows them PENDING again and the watcher keeps waiting.
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "SPECIAL_EXIT",
        "TIMEOUT",
        "REVOKED",
    }
)

# Lines of a job's error file that explain why units died, by failure kind.
OOM_PATTERNS = (
    re.compile(r"exceeded memory limit", re.IGNORECASE),
    re.compile(r"exceeded job memory limit", re.IGNORECASE),
    re.compile(r"oom[- ]kill", re.IGNORECASE),
    re.compile(r"out of memory", re.IGNORECASE),
)
TIME_PATTERNS = (re.compile(r"DUE TO TIME LIMIT"),)
CANCEL_PATTERNS = (re.compile(r"CANCELLED AT"),)
NODE_PATTERNS = (
    re.compile(r"DUE TO NODE FAILURE"),
    re.compile(r"DUE TO PREEMPTION"),
    re.compile(r"node failure", re.IGNORECASE),
)
STEP_ID = re.compile(r"StepId=(\d+)\.(\w+)")

MAX_EVIDENCE_LINES = 20
MAX_EVIDENCE_CHARS = 4_000


class SlurmOutputError(ValueError):
    """A SLURM command printed something this module cannot read."""


@dataclass(frozen=True)
class JobFinal:
    """A job's final state as SLURM reports it, and where that came from.

    `source` is `"sacct"`, `"scontrol"`, `"jobcomp"` or `"none"` (the job left
    the queue and no source knows it: `state` is then `"VANISHED"`).
    """

    job_id: str
    state: str
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    source: str = "none"

    @property
    def vanished(self) -> bool:
        return self.source == "none"

    def describe(self) -> str:
        """`JobState=FAILED ExitCode=0:9 Reason=... (from scontrol)`."""
        parts = [f"JobState={self.state}"]
        if self.exit_code is not None:
            parts.append(f"ExitCode={self.exit_code}:{self.signal or 0}")
        if self.reason and self.reason != "None":
            parts.append(f"Reason={self.reason}")
        return " ".join(parts) + f" (from {self.source})"


def vanished(job_id: str) -> JobFinal:
    """The final state of a job that left the queue without any trace."""
    return JobFinal(job_id=job_id, state="VANISHED", source="none")


def _base_state(raw: str) -> str:
    """`CANCELLED by 0` → `CANCELLED`; `COMPLETING` stays; upper-cased."""
    return raw.strip().split()[0].upper() if raw.strip() else ""


def _job_id(raw: str) -> str:
    """`1234` from `1234`, `1234;cluster`, `1234.batch`, `1234+0`."""
    return re.split(r"[;.+]", raw.strip(), maxsplit=1)[0]


def parse_sbatch(stdout: str) -> str:
    """The job id printed by `sbatch --parsable` (`id` or `id;cluster`)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise SlurmOutputError("sbatch --parsable printed nothing.")
    job_id = lines[-1].split(";", 1)[0]
    if not job_id.isdigit():
        raise SlurmOutputError(
            f"Cannot read a job id from sbatch --parsable output {stdout!r}."
        )
    return job_id


def parse_squeue(stdout: str) -> dict[str, str]:
    """`{job_id: state}` from `squeue -h -o '%i %T'` (array/het suffixes kept out)."""
    states: dict[str, str] = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        states[_job_id(fields[0])] = _base_state(fields[1])
    return states


def _exit(raw: str | None) -> tuple[int | None, int | None]:
    if not raw or ":" not in raw:
        return None, None
    code, _, sig = raw.partition(":")
    try:
        return int(code), int(sig)
    except ValueError:
        return None, None


def parse_scontrol(stdout: str) -> dict[str, JobFinal]:
    """Final states from `scontrol -o show job [ids]` (one job per line).

    Values may contain spaces only in fields we do not read (`Command=`,
    `Comment=`): each `Key=Value` is split on the first `=`.
    """
    finals: dict[str, JobFinal] = {}
    for line in stdout.splitlines():
        fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
        job_id, state = fields.get("JobId"), fields.get("JobState")
        if not job_id or not state:
            continue
        code, sig = _exit(fields.get("ExitCode"))
        finals[job_id] = JobFinal(
            job_id=job_id,
            state=_base_state(state),
            exit_code=code,
            signal=sig,
            reason=fields.get("Reason"),
            source="scontrol",
        )
    return finals


def parse_sacct(stdout: str) -> dict[str, JobFinal]:
    """Final states from `sacct -n -P -X -o JobID,State,ExitCode,Reason -j ids`."""
    finals: dict[str, JobFinal] = {}
    for line in stdout.splitlines():
        fields = line.split("|")
        if len(fields) < 3 or not fields[0].strip():
            continue
        job_id = _job_id(fields[0])
        if not job_id.isdigit():
            continue
        code, sig = _exit(fields[2])
        finals[job_id] = JobFinal(
            job_id=job_id,
            state=_base_state(fields[1]),
            exit_code=code,
            signal=sig,
            reason=fields[3].strip() if len(fields) > 3 else None,
            source="sacct",
        )
    return finals


def parse_jobcomp(text: str, job_ids: Iterable[str]) -> dict[str, JobFinal]:
    """Final states of `job_ids` from a jobcomp/filetxt file (last line wins)."""
    wanted = set(job_ids)
    finals: dict[str, JobFinal] = {}
    for line in text.splitlines():
        fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
        job_id = fields.get("JobId")
        if job_id not in wanted or not fields.get("JobState"):
            continue
        code, sig = _exit(fields.get("ExitCode"))
        finals[job_id] = JobFinal(
            job_id=job_id,
            state=_base_state(fields["JobState"]),
            exit_code=code,
            signal=sig,
            reason=fields.get("Reason"),
            source="jobcomp",
        )
    return finals


def accounting_disabled(stderr: str) -> bool:
    """True when `sacct` says this cluster keeps no accounting."""
    text = stderr.lower()
    return "accounting storage is disabled" in text or "slurmdbd" in text


def invalid_job_id(stderr: str) -> bool:
    """True when squeue/scontrol refused an id because the job is unknown."""
    return "invalid job id" in stderr.lower()


def matching_lines(
    text: str, patterns: Iterable[re.Pattern[str]], *, step: str | None = None
) -> list[str]:
    """Lines of `text` matching any pattern (bounded in count and length).

    With `step` (`"12.3"`), a line naming another step (`StepId=12.4`) is left
    out; lines naming no step (job-level messages) are kept.
    """
    found: list[str] = []
    pats = tuple(patterns)
    for line in text.splitlines():
        if not any(p.search(line) for p in pats):
            continue
        if step is not None:
            named = STEP_ID.search(line)
            if named and f"{named.group(1)}.{named.group(2)}" != step:
                continue
        found.append(line.strip()[:500])
        if len(found) >= MAX_EVIDENCE_LINES:
            break
    return found


@dataclass(frozen=True)
class UnitRecord:
    """What the unit wrapper left on the cluster for one unit.

    `started` is True once the wrapper began (its start marker exists);
    `returncode` is None until it wrote the exit status; `step` is the SLURM
    step (`"<job>.<step>"`) it ran in, when known.
    """

    started: bool = False
    returncode: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    step: str | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class Verdict:
    """How one unit ended: `kind` None means it ran and exited 0."""

    kind: FailureKind | None
    message: str
    returncode: int | None = None
    evidence: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.kind is None


def _with_evidence(message: str, lines: list[str]) -> str:
    if not lines:
        return message
    text = "\n".join(lines)[:MAX_EVIDENCE_CHARS]
    return f"{message}\nSLURM error file:\n{text}"


def classify_unit(
    unit_id: str,
    record: UnitRecord,
    final: JobFinal | None,
    err_text: str,
    *,
    time_limit_s: float | None = None,
    cancelled_by_us: bool = False,
    err_file: str | None = None,
) -> Verdict:
    """Judge one unit from its record, its job's final state and error file.

    `final` is None while the job still runs (only units with an exit status
    can be judged then). `cancelled_by_us` is set when this process (or its
    handle) called `scancel`. See the module doc for the rules.
    """
    job = final.job_id if final is not None else "?"
    where = f" (SLURM job {job}" + (f", error file {err_file})" if err_file else ")")
    oom = matching_lines(err_text, OOM_PATTERNS, step=record.step)
    if record.returncode is not None:
        rc = record.returncode
        if rc == 0:
            return Verdict(None, "", returncode=0)
        if record.timed_out:
            return Verdict(
                FailureKind.TIME_LIMIT,
                f"Unit {unit_id} exceeded its time limit of {time_limit_s:g} "
                f"seconds and was killed{where}.",
                returncode=rc,
            )
        if oom and record.step is not None:
            return Verdict(
                FailureKind.OUT_OF_MEMORY,
                _with_evidence(
                    f"Unit {unit_id} exceeded its memory limit and was killed{where}.",
                    oom,
                ),
                returncode=rc,
                evidence=tuple(oom),
            )
        return Verdict(
            FailureKind.NONZERO_EXIT, f"Task failed with returncode={rc}.", rc
        )
    if final is None:
        raise ValueError(
            f"Unit {unit_id}: cannot classify a unit without exit status while "
            "its job runs."
        )
    state = final.state
    when = "while running" if record.started else "before it started"
    detail = f"{final.describe()}{where}"
    if cancelled_by_us and state in ("CANCELLED", "COMPLETED", "FAILED", "VANISHED"):
        return Verdict(FailureKind.CANCELLED, f"Unit {unit_id} was cancelled {when}.")
    if oom and record.started:
        return _verdict(
            FailureKind.OUT_OF_MEMORY,
            f"Unit {unit_id} exceeded its memory limit and was killed; {detail}.",
            oom,
        )
    if state == "OUT_OF_MEMORY":
        return _verdict(
            FailureKind.OUT_OF_MEMORY,
            f"Unit {unit_id} ran out of memory; {detail}.",
            oom,
        )
    if state in ("TIMEOUT", "DEADLINE"):
        lines = matching_lines(err_text, TIME_PATTERNS)
        return _verdict(
            FailureKind.TIME_LIMIT,
            f"Unit {unit_id} was stopped by the SLURM time limit of its job "
            f"{when}; {detail}.",
            lines,
        )
    if state == "CANCELLED":
        lines = matching_lines(err_text, CANCEL_PATTERNS)
        return _verdict(
            FailureKind.CANCELLED,
            f"Unit {unit_id} was cancelled {when}: its SLURM job was cancelled "
            f"outside this executor; {detail}.",
            lines,
        )
    if state in ("NODE_FAIL", "BOOT_FAIL"):
        return _verdict(
            FailureKind.NODE_FAILURE,
            f"Unit {unit_id} was lost to a node failure {when}; {detail}.",
            matching_lines(err_text, NODE_PATTERNS),
        )
    if state == "PREEMPTED":
        return _verdict(
            FailureKind.NODE_FAILURE,
            f"Unit {unit_id} was preempted {when}; {detail}.",
            matching_lines(err_text, NODE_PATTERNS),
        )
    if final.vanished:
        return Verdict(
            FailureKind.EXECUTOR_ERROR,
            f"Unit {unit_id}: SLURM job {job} left the queue and no source "
            "(sacct, scontrol, jobcomp file) knows its final state; the unit "
            f"{'started' if record.started else 'never started'} and left no "
            "exit status.",
        )
    tail = [line for line in err_text.strip().splitlines() if line.strip()][-10:]
    return _verdict(
        FailureKind.EXECUTOR_ERROR,
        f"Unit {unit_id} {'started' if record.started else 'never started'} "
        f"but left no exit status; {detail}.",
        tail,
    )


def _verdict(kind: FailureKind, message: str, lines: list[str]) -> Verdict:
    return Verdict(kind, _with_evidence(message, lines), evidence=tuple(lines))


def parse_record(
    start_text: str | None, rc_text: str | None, *, time_limit_s: float | None
) -> UnitRecord:
    """A `UnitRecord` from the wrapper's start and exit files' content.

    Start file: `<epoch seconds> <step id>`; exit file: `<rc> <start> <end>`.
    A unit killed by our own `timeout` (exit 124, or 137 after the kill
    grace) counts as timed out when it ran at least its limit.
    """
    started_at = step = None
    if start_text is not None:
        fields = start_text.split()
        started_at = _float(fields[0]) if fields else None
        step = fields[1] if len(fields) > 1 and fields[1] != "-" else None
    if rc_text is None:
        return UnitRecord(
            started=start_text is not None, started_at=started_at, step=step
        )
    fields = rc_text.split()
    try:
        rc = int(fields[0])
    except (IndexError, ValueError):
        raise SlurmOutputError(f"Unreadable unit exit file {rc_text!r}.") from None
    begin = _float(fields[1]) if len(fields) > 1 else started_at
    end = _float(fields[2]) if len(fields) > 2 else None
    timed_out = (
        time_limit_s is not None
        and rc in (124, 137)
        and begin is not None
        and end is not None
        and end - begin >= time_limit_s * 0.99
    )
    return UnitRecord(
        started=True,
        returncode=rc,
        started_at=begin,
        ended_at=end,
        step=step,
        timed_out=bool(timed_out),
    )


def _float(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def final_from_sources(
    job_id: str, *sources: Mapping[str, JobFinal]
) -> JobFinal | None:
    """The first final state any source knows for `job_id` (None: none)."""
    for source in sources:
        final = source.get(job_id)
        if final is not None and final.state in FINAL_STATES:
            return final
    return None
