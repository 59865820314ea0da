"""Hostile manifest files met during collection give the library's errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from fractal_core.collection.errors import CollectionStepError
from fractal_core.collection.errors import InvalidCollectionRequest
from fractal_core.collection.manifest_tasks import manifest_from_wheel
from fractal_core.collection.manifest_tasks import read_manifest
from fractal_core.hosts import LocalHost

HOSTILE = [
    ('{"manifest_version": NaN}', "NaN"),
    ("[" * 100_000 + "]" * 100_000, "nest"),
    ("{not json", "line 1"),
]


@pytest.mark.parametrize(("text", "why"), HOSTILE)
def test_manifest_on_the_host(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "__FRACTAL_MANIFEST__.json"
    path.write_text(text)
    with pytest.raises(CollectionStepError, match="not valid JSON") as info:
        read_manifest(LocalHost(), str(path))
    assert why in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(("text", "why"), HOSTILE)
def test_manifest_in_a_wheel(tmp_path: Path, text: str, why: str) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__FRACTAL_MANIFEST__.json", text)
    with pytest.raises(InvalidCollectionRequest, match="not valid JSON") as info:
        manifest_from_wheel(str(wheel), "1.0")
    assert why in str(info.value)
