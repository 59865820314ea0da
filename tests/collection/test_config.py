"""Collection settings: interpreters, pixi homes, base folder."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fractal_core.collection import CollectionSettings
from fractal_core.collection import PixiNotAvailable
from fractal_core.collection import PixiSettings
from fractal_core.collection import PythonSettings
from fractal_core.collection import PythonVersionNotAvailable


def test_python_settings() -> None:
    py = PythonSettings(
        default_version="3.11", versions={"3.11": "/usr/bin/python3.11"}
    )
    assert py.interpreter(None) == ("3.11", "/usr/bin/python3.11")
    assert py.pip_cache_args() == ["--no-cache-dir"]
    with pytest.raises(PythonVersionNotAvailable, match="'3.12'"):
        py.interpreter("3.12")
    cached = py.model_copy(update={"pip_cache_dir": "/cache"})
    assert cached.pip_cache_args() == ["--cache-dir", "/cache"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"default_version": "3.12", "versions": {"3.11": "/p"}}, "not available"),
        ({"default_version": "3.8", "versions": {"3.8": "/p"}}, "3.8"),
        ({"default_version": "3.11", "versions": {"3.11": "rel/p"}}, "absolute"),
        ({"default_version": "3.11", "versions": {"3.11": "/a/../p"}}, "'..'"),
        ({"default_version": "3.11", "versions": {"3.11": "/a;rm/p"}}, "forbidden"),
    ],
)
def test_python_settings_rejected(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        PythonSettings(**kwargs)


def test_pixi_settings() -> None:
    pixi = PixiSettings(versions={"0.47.0": "/pixi/0.47.0"}, default_version="0.47.0")
    assert pixi.home(None) == ("0.47.0", "/pixi/0.47.0")
    with pytest.raises(PixiNotAvailable, match="'0.1'"):
        pixi.home("0.1")
    with pytest.raises(ValidationError, match="not equal"):
        PixiSettings(versions={"0.47.0": "/pixi/x"}, default_version="0.47.0")
    with pytest.raises(ValidationError, match="not located within"):
        PixiSettings(versions={"1": "/a/1", "2": "/b/2"}, default_version="1")
    with pytest.raises(ValidationError, match="Default version"):
        PixiSettings(versions={"1": "/a/1"}, default_version="2")


def test_collection_settings(tmp_path) -> None:
    s = CollectionSettings.for_current_python(str(tmp_path) + "/")
    assert s.base_dir == str(tmp_path)
    with pytest.raises(PixiNotAvailable, match="Pixi task collection is not available"):
        s.pixi_settings()
    with pytest.raises(ValidationError, match="base_dir"):
        CollectionSettings(base_dir="relative", python=s.python)
