"""Memory strings: the reference's decimal reading by default, SLURM's on request."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.executors import ExecutorError
from fractal_core.executors.slurm import SlurmConfigError
from fractal_core.executors.slurm import slurm_mem_to_mb
from fractal_core.executors.slurm.memory import DECIMAL_FACTORS


def test_reference_cases() -> None:
    """Mirrors fractal-server's `test_unit_slurm_mem_to_MB.py::test_slurm_mem_to_MB`."""
    assert slurm_mem_to_mb(1) == 1
    assert slurm_mem_to_mb("1") == 1
    assert slurm_mem_to_mb("1M") == 1
    assert slurm_mem_to_mb("1G") == 10**3
    assert slurm_mem_to_mb("1T") == 10**6
    for bad in ("ABC", "1AM", "1AG", "1AT", "1A"):
        with pytest.raises(SlurmConfigError):
            slurm_mem_to_mb(bad)


@pytest.mark.parametrize(
    "bad",
    # rejected by the reference too (spec executors.md §4.2)
    ["M100", "1.5G", "10MB", "10K", "10g", " 10", "10 "]
    # rejected here only: the reference accepts these or fails with another error
    + ["", "0", "0G", "1GG", "10MM", "\u0661\u0662", "\u00b2", -5, 0],
)
def test_rejected_values_name_the_value(bad: object) -> None:
    with pytest.raises(SlurmConfigError, match=re.escape(repr(bad))):
        slurm_mem_to_mb(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, False, 1.0, None, b"1G", ["1G"]])
def test_other_types_are_refused(bad: object) -> None:
    with pytest.raises(SlurmConfigError, match="expected an int or a string"):
        slurm_mem_to_mb(bad)  # type: ignore[arg-type]


def test_error_classes() -> None:
    """One library error, usable as an ExecutorError and as a ValueError."""
    with pytest.raises(ExecutorError):
        slurm_mem_to_mb("x")
    with pytest.raises(ValueError):
        slurm_mem_to_mb("x")


def test_binary_reading_is_slurms() -> None:
    """Weak point 10: SLURM reads 1G as 1024 MiB; `binary=True` does the same."""
    assert slurm_mem_to_mb("1G", binary=True) == 1024
    assert slurm_mem_to_mb("1g", binary=True) == 1024
    assert slurm_mem_to_mb("2T", binary=True) == 2 * 1024 * 1024
    assert slurm_mem_to_mb("100m", binary=True) == 100
    assert slurm_mem_to_mb("100", binary=True) == 100
    assert slurm_mem_to_mb(100, binary=True) == 100
    assert slurm_mem_to_mb("1024K", binary=True) == 1
    assert slurm_mem_to_mb("1025k", binary=True) == 2  # rounded up to whole MiB
    assert slurm_mem_to_mb("1G") == 1000  # the default stays decimal
    for bad in ("0K", "1.5G", "1GB", "", "1KK"):
        with pytest.raises(SlurmConfigError):
            slurm_mem_to_mb(bad, binary=True)


@given(number=st.integers(min_value=1, max_value=10**9), unit=st.sampled_from("MGT"))
def test_decimal_strings_property(number: int, unit: str) -> None:
    assert slurm_mem_to_mb(f"{number}{unit}") == number * DECIMAL_FACTORS[unit]
    assert slurm_mem_to_mb(str(number)) == number == slurm_mem_to_mb(number)


@given(number=st.integers(min_value=1, max_value=10**9), unit=st.sampled_from("KMGT"))
def test_binary_never_below_decimal(number: int, unit: str) -> None:
    """SLURM's reading never asks for less than the reference's (K aside)."""
    value = slurm_mem_to_mb(f"{number}{unit}", binary=True)
    assert value >= 1
    if unit != "K":
        assert value >= slurm_mem_to_mb(f"{number}{unit}")


@given(text=st.text(max_size=12))
def test_any_string_gives_a_positive_int_or_the_library_error(text: str) -> None:
    """No input escapes as IndexError/TypeError/ValueError of another class."""
    for binary in (False, True):
        try:
            value = slurm_mem_to_mb(text, binary=binary)
        except SlurmConfigError as exc:
            assert repr(text) in str(exc)
        else:
            assert isinstance(value, int) and value > 0
            assert re.fullmatch(r"[0-9]+[KMGTkmgt]?", text)
