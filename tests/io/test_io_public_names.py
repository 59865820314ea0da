"""`fractal_core.io.__all__` lists exactly the public names of the io modules."""

from __future__ import annotations

import importlib
import inspect

import fractal_core.io as io_package

MODULES = ["dataset_io", "errors", "matching", "schemas", "versions", "workflow_io"]


def test_all_names_exist_and_are_unique() -> None:
    assert len(set(io_package.__all__)) == len(io_package.__all__)
    for name in io_package.__all__:
        assert hasattr(io_package, name), name


def test_every_public_function_and_class_is_exported() -> None:
    exported = set(io_package.__all__)
    missing = []
    for module_name in MODULES:
        module = importlib.import_module(f"fractal_core.io.{module_name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            is_own = getattr(obj, "__module__", "").startswith("fractal_core.io")
            is_api = inspect.isfunction(obj) or inspect.isclass(obj)
            if is_api and is_own and name not in exported and not _protocol(obj):
                missing.append(f"{module_name}.{name}")
    assert missing == []


def _protocol(obj: object) -> bool:
    return bool(getattr(obj, "_is_protocol", False))
