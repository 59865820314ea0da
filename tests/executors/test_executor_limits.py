"""Property tests of the pure scheduling helpers (chunks, submission limit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.executors import ExecutorError
from fractal_core.executors import ResourceRequest
from fractal_core.executors import WorkUnit
from fractal_core.executors._limits import check_unique_ids
from fractal_core.executors._limits import chunk_ranges
from fractal_core.executors._limits import submission_limit


def _unit(index: int, parallel: int | None) -> WorkUnit:
    path = Path("/tmp/x")
    return WorkUnit(
        id=f"u{index}",
        command="true",
        args_file=path,
        output_file=path,
        log_file=path,
        resources=ResourceRequest(parallel_tasks_per_job=parallel),
    )


@given(st.integers(0, 500), st.one_of(st.none(), st.integers(1, 50)))
def test_chunks_cover_every_index_once_in_order(n: int, size: int | None) -> None:
    chunks = chunk_ranges(n, size)
    assert [i for chunk in chunks for i in chunk] == list(range(n))
    assert all(len(chunk) > 0 for chunk in chunks)
    if size is None:
        assert len(chunks) == (1 if n else 0)
    else:
        assert all(len(chunk) == size for chunk in chunks[:-1])
        assert all(len(chunk) <= size for chunk in chunks)
        assert len(chunks) == -(-n // size)


@pytest.mark.parametrize("size", [0, -3])
def test_chunk_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match=f"chunk_size={size}"):
        chunk_ranges(4, size)


@given(st.lists(st.one_of(st.none(), st.integers(1, 100)), max_size=20))
def test_submission_limit_is_the_smallest_value_set(
    values: list[int | None],
) -> None:
    units = [_unit(i, v) for i, v in enumerate(values)]
    set_values = [v for v in values if v is not None]
    assert submission_limit(units) == (min(set_values) if set_values else None)


@pytest.mark.parametrize("bad", [0, -1, True])
def test_submission_limit_refuses_non_positive(bad: int) -> None:
    with pytest.raises(ExecutorError, match=f"parallel_tasks_per_job={bad!r}"):
        submission_limit([_unit(0, 2), _unit(1, bad)])


@given(st.lists(st.integers(0, 10), max_size=15))
def test_unique_ids_check(indices: list[int]) -> None:
    units = [_unit(i, None) for i in indices]
    if len(set(indices)) == len(indices):
        check_unique_ids(units)
    else:
        with pytest.raises(ExecutorError, match="Duplicate unit id"):
            check_unique_ids(units)
