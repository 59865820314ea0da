"""`MemoryStore`: the repository contract on plain dicts, no dependency.

Layout: the committed state is a set of tables (`dict` id -> object). Stored
objects are private copies that are never mutated: a change stores a new
object, and a commit builds new table dicts, so a snapshot taken by a unit of
work stays valid while others commit.

A unit of work reads the snapshot current when it began (or last committed or
rolled back), overlaid with its own pending writes. `commit()` re-checks the
rules that concern other writers (one `submitted` job per dataset) against the
latest committed state under the store's lock and merges the pending writes
into it (last writer wins per object). A dataset's images behave as rows, as
in SQL: when another writer changed the same dataset's images meanwhile, this
unit's image changes are replayed over theirs by zarr_url (a url both created
is a `ConflictError`). Ids come from per-kind counters owned
by the store: they only grow, and ids given out by a rolled-back unit of work
are never reused.

Everything goes in and out as deep copies: callers never share objects with
the store. The one exception, by design of the engine's seam: the recorder
keeps `TaskApplied.images` (a copy-on-write `ImageList` the engine never
modifies again) by reference.

Modules: `state` (tables and shared helpers), `uow`, one per aggregate
(`projects`, `datasets`, `workflows`, `task_groups`, `jobs`), `recorder`,
`store`, and `history` (the history reads).
"""

from __future__ import annotations

from .history import MemoryHistoryReads
from .recorder import MemoryStoreRecorder
from .store import MemoryStore
from .uow import MemoryUnitOfWork

__all__ = [
    "MemoryHistoryReads",
    "MemoryStore",
    "MemoryStoreRecorder",
    "MemoryUnitOfWork",
]
