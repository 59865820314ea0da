"""Fixtures of the engine tests: the testkit task package installed in a venv."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testkit import InstalledTestkit
from .testkit import install_testkit


@pytest.fixture(scope="session")
def testkit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledTestkit]:
    """Build the testkit wheel and install it into a fresh venv, once per session."""
    yield install_testkit(tmp_path_factory.mktemp("testkit"))
