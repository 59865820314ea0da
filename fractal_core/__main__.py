"""`python -m fractal_core ...`: the command line (see `fractal_core.cli`)."""

from __future__ import annotations

from fractal_core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
