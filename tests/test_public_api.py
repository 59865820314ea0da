"""The top-level namespace is the public API: `__all__` must list exactly it."""

from __future__ import annotations

import types

import fractal_core


def _public_names() -> set[str]:
    return {
        name
        for name, value in vars(fractal_core).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } | {"__version__"}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(fractal_core.__all__) == _public_names()


def test_all_has_no_duplicates_and_every_name_resolves() -> None:
    assert len(fractal_core.__all__) == len(set(fractal_core.__all__))
    for name in fractal_core.__all__:
        assert getattr(fractal_core, name) is not None, name


def test_version_is_a_pep440_string() -> None:
    from packaging.version import Version

    assert str(Version(fractal_core.__version__)) == fractal_core.__version__
