"""Reading resource values from a workflow task's `meta` (pure functions).

Memory follows the reference's `slurm_mem_to_MB` units (decimal: 1G = 1000 MB,
1T = 10**6 MB, a bare number is MB) but is stricter where the reference is
accidentally lenient: zero and doubled units ("1GG") are refused. Unit letters are
accepted in either case. Times follow SLURM's `--time` syntax.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .base import ResourceRequestError

_MEM_UNITS = {"": 1, "M": 1, "G": 1_000, "T": 1_000_000}
_MEM_RE = re.compile(r"(\d+)\s*([MGT]?)", re.IGNORECASE)
_MEM_HINT = "valid examples: 93, 71M, 93G, 71T"

# SLURM --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
_TIME_RE = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?")
_UNLIMITED = {"unlimited", "infinite"}


def parse_mem_mb(value: Any, *, key: str = "mem") -> int:
    """Memory in MB from an int (MB) or a string like "4G"; positive values only."""
    if isinstance(value, bool):
        raise ResourceRequestError(key, value, f"a memory amount ({_MEM_HINT})")
    if isinstance(value, int):
        mb = value
    elif isinstance(value, str) and (match := _MEM_RE.fullmatch(value.strip())):
        mb = int(match.group(1)) * _MEM_UNITS[match.group(2).upper()]
    else:
        raise ResourceRequestError(key, value, f"a memory amount ({_MEM_HINT})")
    if mb <= 0:
        raise ResourceRequestError(key, value, "a positive memory amount")
    return mb


def _time_parts(text: str) -> tuple[int, int, int, int]:
    """(days, hours, minutes, seconds) of a SLURM time string; ValueError if bad."""
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    days, first, second, third = match.groups()
    if days is not None:  # D-H, D-H:M, D-H:M:S
        return int(days), int(first), int(second or 0), int(third or 0)
    if third is not None:  # H:M:S
        return 0, int(first), int(second), int(third)
    return 0, 0, int(first), int(second or 0)  # M or M:S


def parse_time_limit_s(value: Any, *, key: str = "time") -> float | None:
    """Seconds from a SLURM time ("30", "1:30:00", "2-12:00:00", minutes as int).

    "UNLIMITED"/"INFINITE" give None (no limit); zero and negative values are refused.
    """
    expected = 'a SLURM time limit (minutes, "H:M:S", "D-H:M:S" or "UNLIMITED")'
    if isinstance(value, bool):
        raise ResourceRequestError(key, value, expected)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) * 60
        if not math.isfinite(seconds):
            raise ResourceRequestError(key, value, expected)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in _UNLIMITED:
            return None
        try:
            days, hours, minutes, secs = _time_parts(text)
        except ValueError:
            raise ResourceRequestError(key, value, expected) from None
        seconds = float(((days * 24 + hours) * 60 + minutes) * 60 + secs)
    else:
        raise ResourceRequestError(key, value, expected)
    if seconds <= 0:
        raise ResourceRequestError(key, value, "a positive time limit")
    return seconds


def parse_positive_int(value: Any, *, key: str) -> int:
    """A positive int from an int or a string of digits (e.g. cpus_per_task)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ResourceRequestError(key, value, "a positive integer")
    return value


def parse_gpus(value: Any, *, key: str = "gpus") -> str:
    """The `gpus` request as SLURM's string ("1", "a100:2"); ints are converted."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ResourceRequestError(key, value, 'a GPU request such as "1" or "a100:2"')
