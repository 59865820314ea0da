"""The example backend refuses to start on a data folder another backend serves.

Its startup fails every collection left in flight, which is only right for
the one process that serves the data folder; the second `open_backend` on the
same folder must refuse, naming the folder, and leave the first one's
activities alone. Run in-process (no HTTP needed for this rule).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def webapp() -> Iterator[ModuleType]:
    """`webapp.app`, imported from docs/examples."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        from webapp import app

        yield app
    finally:
        sys.path.remove(str(EXAMPLES))


def test_a_second_backend_on_the_same_data_folder_is_refused(
    webapp: ModuleType, tmp_path: Path
) -> None:
    settings = webapp.Settings.resolve(None, tmp_path / "data")
    first = webapp.open_backend(settings)
    try:
        with pytest.raises(webapp.BackendBusyError, match=str(tmp_path / "data")):
            webapp.open_backend(settings)
        other = webapp.open_backend(webapp.Settings.resolve(None, tmp_path / "other"))
        webapp.close_backend(other)  # another folder is no conflict
    finally:
        webapp.close_backend(first)
    again = webapp.open_backend(settings)  # released with the first backend
    webapp.close_backend(again)
