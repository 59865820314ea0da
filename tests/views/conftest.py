"""Fixtures of the view tests: the testkit task package in a venv (once)."""

from __future__ import annotations

import pytest

from tests.engine.testkit import InstalledTestkit
from tests.engine.testkit import install_testkit


@pytest.fixture(scope="session")
def testkit(tmp_path_factory: pytest.TempPathFactory) -> InstalledTestkit:
    return install_testkit(tmp_path_factory.mktemp("views-testkit"))
