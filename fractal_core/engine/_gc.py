"""Pause the cyclic garbage collector around bulk dict building."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small dicts.

    Bulk updates allocate hundreds of thousands of acyclic dicts; letting the
    collector re-scan the whole heap meanwhile costs more than the work itself.
    The previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
