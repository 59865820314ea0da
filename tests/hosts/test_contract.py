"""The Host contract (tests/hosts/contract.py), run on every implementation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fractal_core.hosts import LocalHost

from .contract import HOST_CASES
from .contract import HostFactory
from .contract import HostUnderTest


def local_host(tmp: str) -> HostUnderTest:
    """This machine, with a short kill grace to keep the suite quick."""
    return HostUnderTest(LocalHost(kill_grace=0.5), sys.executable, tmp)


def ssh_host(tmp: str) -> HostUnderTest:
    """The test user over SSH on the session's loopback sshd (skips without one)."""
    from tests.ssh.fixtures import host_for
    from tests.ssh.fixtures import scratch_dir
    from tests.ssh.fixtures import session_server

    host = host_for(session_server().endpoint)
    return HostUnderTest(host, "/usr/bin/python3", scratch_dir(host))


FACTORIES: dict[str, HostFactory] = {"local": local_host, "ssh": ssh_host}


@pytest.mark.parametrize("factory", FACTORIES.values(), ids=list(FACTORIES))
@pytest.mark.parametrize("case", HOST_CASES, ids=[c.__name__ for c in HOST_CASES])
def test_host_contract(
    factory: HostFactory, case: Callable[[HostUnderTest], None], tmp_path: Path
) -> None:
    case(factory(str(tmp_path)))
