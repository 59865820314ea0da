"""Importing and using the library leaves its host's process-global state alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_import_and_filter_change_no_global_state() -> None:
    script = textwrap.dedent(
        """
        import gc, logging, os, signal, sys
        before = (list(logging.getLogger().handlers), gc.isenabled(),
                  signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
                  os.getcwd())
        import fractal_core as fc
        images = fc.ImageList(
            [{"zarr_url": f"/z/{i}", "types": {"a": i % 2 == 0}} for i in range(1000)]
        )
        assert len(images.filter(type_filters={"a": True})) == 500
        after = (list(logging.getLogger().handlers), gc.isenabled(),
                 signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
                 os.getcwd())
        assert before == after, (before, after)
        handlers = logging.getLogger("fractal_core").handlers
        assert any(isinstance(h, logging.NullHandler) for h in handlers)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "No handlers" not in result.stderr
