"""Typed resource requests from a task's meta, and host-side unit paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.errors import FractalCoreError
from fractal_core.executors import ExecutorError
from fractal_core.executors import ResourceRequest
from fractal_core.executors import ResourceRequestError
from fractal_core.executors import WorkUnit
from fractal_core.executors import parse_mem_mb
from fractal_core.executors import parse_time_limit_s

UNITS = {"": 1, "M": 1, "G": 1_000, "T": 1_000_000}


@given(st.integers(1, 10**6), st.sampled_from(sorted(UNITS)), st.booleans())
def test_memory_strings_use_decimal_units(number: int, unit: str, lower: bool) -> None:
    text = f"{number}{unit.lower() if lower else unit}"
    assert parse_mem_mb(text) == number * UNITS[unit]


@given(st.integers(1, 10**9))
def test_memory_int_is_megabytes(number: int) -> None:
    assert parse_mem_mb(number) == number


@pytest.mark.parametrize(
    "bad",
    ["ABC", "M100", "1A", "1.5G", "10MB", "10K", "", "1GG", "0", 0, -5, True, 1.5],
)
def test_bad_memory_names_key_and_value(bad: Any) -> None:
    with pytest.raises(ResourceRequestError, match="mem=") as info:
        parse_mem_mb(bad)
    assert info.value.key == "mem" and info.value.value == bad
    assert isinstance(info.value, ExecutorError) and isinstance(info.value, ValueError)


@given(
    st.integers(0, 30),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)
def test_slurm_time_forms(days: int, hours: int, minutes: int, seconds: int) -> None:
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    forms = {
        f"{days}-{hours}:{minutes:02d}:{seconds:02d}": total,
        f"{days}-{hours}:{minutes}": ((days * 24 + hours) * 60 + minutes) * 60,
        f"{days}-{hours}": (days * 24 + hours) * 3600,
        f"{hours}:{minutes}:{seconds}": (hours * 60 + minutes) * 60 + seconds,
        f"{minutes}:{seconds}": minutes * 60 + seconds,
        f"{minutes}": minutes * 60,
    }
    for text, expected in forms.items():
        if expected == 0:
            with pytest.raises(ResourceRequestError, match="positive"):
                parse_time_limit_s(text)
        else:
            assert parse_time_limit_s(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(30, 1800.0), (0.5, 30.0), ("UNLIMITED", None), ("infinite", None)],
)
def test_time_numbers_are_minutes(value: Any, expected: float | None) -> None:
    assert parse_time_limit_s(value) == expected


@pytest.mark.parametrize("bad", ["1:2:3:4", "abc", "-5", "1-", "", True, [], 0, -1])
def test_bad_time_names_key_and_value(bad: Any) -> None:
    with pytest.raises(ResourceRequestError, match="time="):
        parse_time_limit_s(bad)


def test_from_meta_reads_typed_fields_and_keeps_meta() -> None:
    meta = {
        "cpus_per_task": "4",
        "mem": "8G",
        "gpus": 1,
        "time": "1:00:00",
        "partition": "main",
    }
    request = ResourceRequest.from_meta(meta, parallel_tasks_per_job=3)
    assert request.cpus_per_task == 4
    assert request.mem_mb == 8000
    assert request.gpus == "1"
    assert request.time_limit_s == 3600.0
    assert request.parallel_tasks_per_job == 3
    assert request.meta == meta  # raw values kept for SLURM settings


def test_from_meta_defaults() -> None:
    assert ResourceRequest.from_meta(None) == ResourceRequest()
    request = ResourceRequest.from_meta({"time": None}, default_time_limit_s=60)
    assert request.time_limit_s == 60
    assert (
        ResourceRequest.from_meta({"time": "2"}, default_time_limit_s=60).time_limit_s
        == 120
    )


@pytest.mark.parametrize(
    ("meta", "key"),
    [
        ({"cpus_per_task": 0}, "cpus_per_task"),
        ({"cpus_per_task": "two"}, "cpus_per_task"),
        ({"mem": "lots"}, "mem"),
        ({"gpus": ""}, "gpus"),
        ({"time": "soon"}, "time"),
    ],
)
def test_from_meta_bad_values(meta: dict[str, Any], key: str) -> None:
    with pytest.raises(ResourceRequestError, match=f"{key}=") as info:
        ResourceRequest.from_meta(meta)
    assert info.value.key == key
    assert isinstance(info.value, FractalCoreError)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True])
def test_time_limit_must_be_positive(bad: float) -> None:
    with pytest.raises(ResourceRequestError, match="time_limit_s="):
        ResourceRequest(time_limit_s=bad)


def _unit(**remote: str | None) -> WorkUnit:
    base = Path("/local/job")
    return WorkUnit(
        id="0",
        command="true",
        args_file=base / "0-args.json",
        output_file=base / "0-out.json",
        log_file=base / "0-log.txt",
        **remote,  # type: ignore[arg-type]
    )


def test_remote_paths_default_to_local() -> None:
    unit = _unit()
    assert unit.args_file_on_host == "/local/job/0-args.json"
    assert unit.output_file_on_host == "/local/job/0-out.json"
    assert unit.log_file_on_host == "/local/job/0-log.txt"
    remote = _unit(
        args_file_remote="/remote/job/0-args.json",
        output_file_remote="/remote/job/0-out.json",
        log_file_remote="/remote/job/0-log.txt",
    )
    assert remote.args_file_on_host == "/remote/job/0-args.json"
    assert remote.output_file_on_host == "/remote/job/0-out.json"
    assert remote.log_file_on_host == "/remote/job/0-log.txt"
    assert remote.args_file == Path("/local/job/0-args.json")


@pytest.mark.parametrize("bad", ["relative/x", "/a/../b", "/a/\x00b", ""])
def test_bad_remote_paths_are_refused(bad: str) -> None:
    with pytest.raises(ExecutorError, match="output_file_remote="):
        _unit(output_file_remote=bad)
