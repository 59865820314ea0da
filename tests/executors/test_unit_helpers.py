"""Pure per-unit helpers: output parsing, log placeholders, command checks."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.executors import FailureKind
from fractal_core.executors import LocalExecutor
from fractal_core.executors import ResourceRequest
from fractal_core.executors import UnitStatus
from fractal_core.executors import WorkUnit
from fractal_core.executors._unit import LOG_EXCERPT_CHARS
from fractal_core.executors._unit import MAX_LEN_STDERR
from fractal_core.executors._unit import InvalidCommand
from fractal_core.executors._unit import InvalidOutput
from fractal_core.executors._unit import log_for_failure
from fractal_core.executors._unit import read_output
from fractal_core.executors._unit import split_command
from fractal_core.executors._unit import stderr_for_message

FORBIDDEN = "`#$&*()\\|[]{};<>?!"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_read_output_round_trips_json(value: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.json"
        path.write_text(json.dumps(value, indent=2))
        assert read_output(path) == value


@pytest.mark.parametrize("content", ["", " ", "\n\t\n"])
def test_read_output_blank_is_none(tmp_path: Path, content: str) -> None:
    path = tmp_path / "out.json"
    path.write_text(content)
    assert read_output(path) is None
    assert read_output(tmp_path / "missing.json") is None


@pytest.mark.parametrize("content", ["{", "nul", "[1,]", "{'a': 1}"])
def test_read_output_invalid_names_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "out.json"
    path.write_text(content)
    with pytest.raises(InvalidOutput, match=str(path)):
        read_output(path)


def test_read_output_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidOutput, match=str(path)):
        read_output(path)


@given(st.integers(0, 3 * MAX_LEN_STDERR))
def test_long_logs_are_replaced_and_tailed(length: int) -> None:
    text = "a" * (length - 1) + "Z" if length else ""
    message = stderr_for_message(text, Path("/jobs/log.txt"))
    kept = log_for_failure(text)
    assert kept == text[-LOG_EXCERPT_CHARS:]
    if length <= MAX_LEN_STDERR:
        assert message == text
    else:
        assert message.startswith(f"Cannot display stderr of length {length}.")
        assert "/jobs/log.txt" in message
        assert len(kept) == LOG_EXCERPT_CHARS and kept.endswith("Z")


@given(
    st.text(alphabet="abc /-_.", max_size=10),
    st.sampled_from(list(FORBIDDEN)),
    st.text(alphabet="abc /-_.", max_size=10),
)
def test_any_forbidden_character_is_refused(before: str, bad: str, after: str) -> None:
    with pytest.raises(InvalidCommand, match="Invalid command"):
        split_command(f"true {before}{bad}{after}")


def test_split_command_keeps_quoted_words() -> None:
    assert split_command("true 'a b' c") == ["true", "a b", "c"]


def test_unschedulable_units_fail_instead_of_hanging(tmp_path: Path) -> None:
    executor = LocalExecutor(max_workers=1)
    executor._pool.shutdown()  # simulate interpreter shutdown: pool refuses work
    units = [
        WorkUnit(
            id=str(i),
            command="true",
            args_file=tmp_path / f"{i}-args.json",
            output_file=tmp_path / f"{i}-out.json",
            log_file=tmp_path / f"{i}-log.txt",
            resources=ResourceRequest(parallel_tasks_per_job=2),
        )
        for i in range(3)
    ]
    handle = executor.submit(units)
    assert handle.wait(timeout=10)
    results = handle.results()
    assert {r.status for r in results.values()} == {UnitStatus.FAILED}
    assert all(
        r.failure is not None and r.failure.kind is FailureKind.EXECUTOR_ERROR
        for r in results.values()
    )
    executor.shutdown()


def test_deeply_nested_output_is_an_invalid_output_not_a_recursion_error(
    tmp_path: Path,
) -> None:
    from fractal_core.executors._unit import InvalidOutput
    from fractal_core.executors._unit import read_output

    output = tmp_path / "out.json"
    output.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(InvalidOutput, match="nested too deeply"):
        read_output(output)
