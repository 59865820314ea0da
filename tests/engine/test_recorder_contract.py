"""`InMemoryRecorder` passes the recorder contract."""

from __future__ import annotations

import pytest

from fractal_core.engine.recorder import InMemoryRecorder

from .recorder_contract import RecorderContract


class TestInMemoryRecorder(RecorderContract):
    @pytest.fixture
    def recorder(self) -> InMemoryRecorder:
        return InMemoryRecorder()
