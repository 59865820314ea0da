"""Dataset files: export shape, import checks, round trips through Dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.domain.dataset import Dataset
from fractal_core.io.dataset_io import check_zarr_dir_in_project_dirs
from fractal_core.io.dataset_io import export_dataset
from fractal_core.io.dataset_io import export_dataset_file
from fractal_core.io.dataset_io import import_dataset
from fractal_core.io.dataset_io import import_dataset_file
from fractal_core.io.errors import DatasetImportError
from tests.strategies import image_lists
from tests.strategies import path_segments


def image(url: str, **attributes: object) -> dict:
    return {"zarr_url": url, "origin": None, "attributes": attributes, "types": {}}


def test_import_normalises_and_ignores_legacy_filters() -> None:
    dataset = import_dataset(
        {
            "name": "my dataset",
            "zarr_dir": "/data/zarr/",
            "images": [image("/data/zarr/plate.zarr/A/01/0/", well="A01")],
            "filters": {"attributes": {}, "types": {}},
            "attribute_filters": {"well": ["A01"]},
            "type_filters": {"3D": True},
        },
        project_id=4,
    )
    assert isinstance(dataset, Dataset) and dataset.project_id == 4
    assert dataset.zarr_dir == "/data/zarr"
    assert "/data/zarr/plate.zarr/A/01/0" in dataset.images
    assert export_dataset(dataset) == {
        "name": "my dataset",
        "zarr_dir": "/data/zarr",
        "images": [image("/data/zarr/plate.zarr/A/01/0", well="A01")],
    }


@pytest.mark.parametrize(
    "url",
    [
        "/other/img",
        "/data/zarr_sibling/img",  # a string prefix, not a child
        "/data/zarr",  # the dir itself
        "s3://bucket/data/zarr/img",  # mixed S3/local
    ],
)
def test_images_outside_zarr_dir_are_refused(url: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="not inside zarr_dir") as info:
        import_dataset({"name": "d", "zarr_dir": "/data/zarr", "images": [image(url)]})
    assert url in str(info.value)


def test_duplicate_images_and_bad_names_are_refused() -> None:
    twice = [image("/data/zarr/a"), image("/data/zarr/a/")]
    with pytest.raises(pydantic.ValidationError, match="/data/zarr/a"):
        import_dataset({"name": "d", "zarr_dir": "/data/zarr", "images": twice})
    for name in ["", "a/b", "x;rm"]:
        with pytest.raises(pydantic.ValidationError, match="name"):
            import_dataset({"name": name, "zarr_dir": "/data/zarr"})
    with pytest.raises(pydantic.ValidationError, match="zarr_dir"):
        import_dataset({"name": "d", "zarr_dir": "/data/../etc"})


def test_zarr_dir_must_be_in_a_project_dir() -> None:
    check_zarr_dir_in_project_dirs("/home/me/proj/ds", ["/elsewhere", "/home/me/proj"])
    check_zarr_dir_in_project_dirs("/home/me/proj", ["/home/me/proj/"])
    check_zarr_dir_in_project_dirs("s3://bucket/a/b", ["s3://bucket"])
    with pytest.raises(DatasetImportError, match="/home/me/projX") as info:
        import_dataset(
            {"name": "d", "zarr_dir": "/home/me/projX"}, project_dirs=["/home/me/proj"]
        )
    assert "/home/me/proj" in str(info.value)


def test_file_round_trip(tmp_path: Path) -> None:
    data = {
        "name": "d",
        "zarr_dir": "s3://bucket/zarr",
        "images": [
            image("s3://bucket/zarr/a", k=1),
            image("s3://bucket/zarr/b", k=2.5),
        ],
    }
    source = tmp_path / "dataset.json"
    source.write_text(json.dumps(data))
    dataset = import_dataset_file(source)
    target = export_dataset_file(dataset, tmp_path / "again.json")
    assert json.loads(target.read_text()) == data


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatasetImportError, match="bad.json"):
        import_dataset_file(bad)
    listing = tmp_path / "list.json"
    listing.write_text("[]")
    with pytest.raises(DatasetImportError, match="JSON object"):
        import_dataset_file(listing)


@given(st.sampled_from(["/data/zarr", "s3://bucket/zarr"]), st.data())
def test_round_trip_property(zarr_dir: str, data: st.DataObject) -> None:
    urls = st.lists(path_segments, min_size=1, max_size=3).map(
        lambda segs: zarr_dir + "/" + "/".join(segs)
    )
    images = data.draw(image_lists(max_size=10, urls=urls))
    exported = {"name": "ds", "zarr_dir": zarr_dir, "images": images}
    dataset = import_dataset(exported)
    assert [img["zarr_url"] for img in dataset.images] == [
        i["zarr_url"] for i in images
    ]
    assert export_dataset(dataset) == exported
    assert dataset.to_export() == exported
