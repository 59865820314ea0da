"""Hostile workflow and dataset files give the io errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fractal_core.io import DatasetImportError
from fractal_core.io import WorkflowImportError
from fractal_core.io.dataset_io import import_dataset_file
from fractal_core.io.workflow_io import import_workflow_file

HOSTILE = [
    (b'{"name": "wf\xc3", "task_list": []}', "not UTF-8 at byte 12"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 256 levels"),
    (b'{"name": "a", "zarr_dir": "/z", "images": [], "n": -Infinity}', "-Infinity"),
    (b"{not json", "not valid JSON"),
]


@pytest.mark.parametrize(("content", "expected"), HOSTILE)
def test_workflow_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "workflow.json"
    path.write_bytes(content)
    with pytest.raises(WorkflowImportError, match=expected) as info:
        import_workflow_file(path, [])
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("content", "expected"), HOSTILE)
def test_dataset_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "dataset.json"
    path.write_bytes(content)
    with pytest.raises(DatasetImportError, match=expected) as info:
        import_dataset_file(path)
    assert str(path) in str(info.value)


def test_invalid_dataset_content_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dataset.json"
    path.write_text(
        '{"name": "d", "zarr_dir": "/z", "images": [{"zarr_url": "/elsewhere/a"}]}'
    )
    with pytest.raises(DatasetImportError, match="not inside zarr_dir") as info:
        import_dataset_file(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, ValidationError)


def test_invalid_workflow_content_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "workflow.json"
    path.write_text('{"name": "wf", "task_list": [{"task": {"name": 3}}]}')
    with pytest.raises(WorkflowImportError, match="task_list") as info:
        import_workflow_file(path, [])
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, ValidationError)
