"""The SQL store: SQLAlchemy 2 on SQLite (embedded) and PostgreSQL.

`SQLStore(url)` implements `fractal_core.repository.base.Store`; see
docs/repository.md for what is stored how and the guarantees.
"""

from __future__ import annotations

from .models import SCHEMA_VERSION
from .recorder import SQLRecorder
from .store import SQLStore
from .uow import SQLUnitOfWork

__all__ = [
    "SCHEMA_VERSION",
    "SQLRecorder",
    "SQLStore",
    "SQLUnitOfWork",
]
