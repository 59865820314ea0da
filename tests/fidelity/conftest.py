"""Fixtures of the side-by-side fidelity suite (fractal_core vs fractal-server 2.17.0).

- `reference` (session): a `ReferenceSide` running `reference_driver.py` with the
  python of a venv holding `fractal-server==2.17.0` from PyPI. The venv is cached
  between runs under `$FRACTAL_CORE_TEST_CACHE` (default
  `~/.cache/fractal_core_tests`), built in a temporary folder and renamed into
  place under a file lock (`venv_cache.cached_venv`). fractal-server is
  never a dependency of fractal_core: it only lives in that venv.

Every test using it must be `@pytest.mark.slow` (the first run downloads from
PyPI). `FRACTAL_CORE_FIDELITY_EXAMPLES` sets the examples per strategy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import COMPARED
from .sides import ReferenceSide
from .venv_cache import cached_venv

FRACTAL_SERVER_VERSION = "2.17.0"


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceSide]:
    """fractal-server 2.17.0 in a cached venv (first run: about 30 s)."""
    root = cached_venv("fractal-server", FRACTAL_SERVER_VERSION)
    side = ReferenceSide(
        python=root / "bin" / "python", workdir=tmp_path_factory.mktemp("reference")
    )
    yield side
    side.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many examples each function had compared against the reference."""
    if not COMPARED:
        return
    terminalreporter.section("fidelity examples compared")
    for fn, count in sorted(COMPARED.items()):
        terminalreporter.write_line(f"{fn}: {count}")
    terminalreporter.write_line(f"total: {sum(COMPARED.values())}")
