"""Shared pytest configuration for the whole suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck
from hypothesis import settings

pytest_plugins = [
    "tests.postgres_fixtures",
    "tests.slurm.fixtures",
    "tests.ssh.fixtures",
]

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
