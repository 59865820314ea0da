"""Timezone-aware timestamps, as the reference stores them (UTC)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def get_timestamp() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(tz=UTC)
