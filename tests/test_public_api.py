"""The top level holds the curated names, moved names warn, errors are in one module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap
import types
import warnings

import pytest

import fractal_core
import fractal_core.errors as errors
from fractal_core.errors import FractalCoreError

# What a notebook user reaches for (see fractal_core's docstring for the rule),
# written out here so that any change to the surface is a deliberate one.
_CURATED_NAMES = """
    Dataset Job JobStatus Project Task TaskGroup TaskType Workflow WorkflowTask
    JobHandle JobOutcome resume_plan resume_task run_job run_workflow submit_job
    Executor LocalExecutor
    CollectionSettings collect_custom collect_pixi collect_pypi collect_wheel
    deactivate delete find_task_groups load_task_group reactivate
    export_dataset export_dataset_file export_workflow export_workflow_file
    import_dataset import_dataset_file import_workflow import_workflow_file
    ImageList SingleImage aggregate_attributes aggregate_types filter_image_list
    find_image_by_zarr_url match_filter merge_type_filters
    MemoryStore SQLStore progress watch FractalCoreError
"""
CURATED = set(_CURATED_NAMES.split())
# Every public subpackage found on disk is reachable as an attribute.
SUBPACKAGES = {
    info.name
    for info in pkgutil.iter_modules(fractal_core.__path__)
    if not info.name.startswith("_")
}


def test_dir_lists_exactly_the_curated_names_and_subpackages() -> None:
    public = {name for name in dir(fractal_core) if not name.startswith("_")}
    assert public == CURATED | SUBPACKAGES
    assert "__version__" in dir(fractal_core)


def test_all_is_the_curated_set_without_duplicates() -> None:
    assert len(fractal_core.__all__) == len(set(fractal_core.__all__))
    assert set(fractal_core.__all__) == CURATED | {"__version__"}


def test_no_other_public_name_is_bound_at_the_top_level() -> None:
    bound = {
        name
        for name, value in vars(fractal_core).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert bound <= CURATED
    assert CURATED - bound <= {"SQLStore"}  # the one name loaded on first access


def test_every_curated_name_and_subpackage_resolves_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in CURATED:
            assert getattr(fractal_core, name) is not None, name
        for name in SUBPACKAGES:
            module = getattr(fractal_core, name)
            assert isinstance(module, types.ModuleType)
            assert module.__name__ == f"fractal_core.{name}"


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        fractal_core.no_such_name  # noqa: B018


@pytest.mark.parametrize("name", sorted(fractal_core._MOVED_TO))
def test_moved_name_warns_naming_its_new_home_and_is_the_same_object(
    name: str,
) -> None:
    home = fractal_core._MOVED_TO[name]
    module = importlib.import_module(home)
    assert name in module.__all__, f"{home}.__all__ lacks {name}"
    with pytest.warns(DeprecationWarning, match=rf"fractal_core\.{name} moved") as w:
        value = getattr(fractal_core, name)
    assert value is getattr(module, name)
    assert f"from {home} import {name}" in str(w[0].message)
    assert w[0].filename == __file__  # attributed to the caller's line
    assert name not in CURATED and name not in dir(fractal_core)


def test_moved_exceptions_and_aliases_have_the_documented_homes() -> None:
    moved = fractal_core._MOVED_TO
    for name, home in moved.items():
        module = importlib.import_module(home)
        value = getattr(module, name)
        is_exception = isinstance(value, type) and issubclass(value, BaseException)
        assert is_exception == (home == "fractal_core.errors"), name
    from fractal_core.types import __all__ as type_names

    aliases = ("NonEmptyStr", "ZarrUrlStr", "DictStrAny", "ListUniqueNonEmptyString")
    for alias in aliases:
        assert moved[alias] == "fractal_core.types" and alias in type_names


def test_importing_the_package_does_not_load_sqlalchemy() -> None:
    script = textwrap.dedent(
        """
        import sys
        import fractal_core as fc
        assert "sqlalchemy" not in sys.modules
        assert fc.SQLStore.__name__ == "SQLStore"
        assert "sqlalchemy" in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_version_is_a_pep440_string() -> None:
    from packaging.version import Version

    assert str(Version(fractal_core.__version__)) == fractal_core.__version__


# --- fractal_core.errors -------------------------------------------------------


def test_every_name_in_errors_is_an_exception_class() -> None:
    assert len(errors.__all__) == len(set(errors.__all__))
    for name in errors.__all__:
        value = getattr(errors, name)
        assert isinstance(value, type) and issubclass(value, Exception), name


def test_errors_dir_lists_its_exports_and_unknown_names_fail() -> None:
    assert set(errors.__all__) <= set(dir(errors))
    with pytest.raises(AttributeError, match="NotAnError"):
        errors.NotAnError  # noqa: B018


def _library_exception_classes() -> set[type[BaseException]]:
    """Every FractalCoreError subclass defined anywhere in fractal_core."""
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(fractal_core.__path__, "fractal_core."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, FractalCoreError)
                and value.__module__ == info.name
                and not value.__name__.startswith("_")
            ):
                found.add(value)
    return found


def test_errors_reexports_every_library_exception() -> None:
    exported = {getattr(errors, name) for name in errors.__all__}
    missing = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _library_exception_classes() - exported
    }
    assert not missing, f"add to fractal_core/errors.py: {sorted(missing)}"
    assert len(exported) == len(errors.__all__)  # one name per class


def test_every_error_except_json_text_derives_from_the_base() -> None:
    outside = {
        name
        for name in errors.__all__
        if not issubclass(getattr(errors, name), FractalCoreError)
    }
    assert outside == {"JsonTextError"}


def test_the_two_dataset_busy_errors_are_told_apart() -> None:
    from fractal_core.engine import DatasetBusyError as EngineBusy
    from fractal_core.services import DatasetBusyError as ServiceBusy

    assert errors.DatasetBusyError is EngineBusy
    assert errors.ServiceDatasetBusyError is ServiceBusy
    assert EngineBusy is not ServiceBusy
