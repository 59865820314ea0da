"""HTML views: counts, statuses and values are shown, and every value is escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.workflow import Workflow
from fractal_core.images.image_list import ImageList

from .test_reprs import make_group


class _Collect(HTMLParser):
    """Tags and text of an HTML fragment (to check structure and escaping)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    return parser


def rows(html: str) -> int:
    return parse(html).tags.count("tr") - html.count("<thead>")


def plate(n: int, zarr_dir: str = "/data/zarr") -> Dataset:
    ds = Dataset(name="plate", zarr_dir=zarr_dir)
    for i in range(n):
        ds.images.add(
            {
                "zarr_url": f"{zarr_dir}/p.zarr/A/{i % 3:02d}/{i}",
                "attributes": {"well": f"A{i % 3:02d}", "plate": "p.zarr"},
                "types": {"is_3D": i % 2 == 0},
            }
        )
    return ds


def test_image_list_table_is_paginated() -> None:
    images = plate(25).images
    html = images._repr_html_()
    assert "25 images" in html
    assert rows(html) == 20
    assert "… 5 more images" in html
    small = ImageList([{"zarr_url": "/a/x"}])
    assert rows(small._repr_html_()) == 1 and "more" not in small._repr_html_()


def test_dataset_html_counts_types_and_attribute_values() -> None:
    ds = plate(7)
    html = ds._repr_html_()
    text = "".join(parse(html).text)
    assert "7 images" in text and "/data/zarr" in text
    # is_3D: 4 true (0, 2, 4, 6), 3 false
    assert "true (4), false (3)" in text
    # wells A00 x3 (0, 3, 6), A01 x2, A02 x2; one plate value for all 7
    assert '"A00" (3)' in text and '"A01" (2)' in text and '"A02" (2)' in text
    assert '"p.zarr" (7)' in text


def test_hostile_values_are_escaped() -> None:
    ds = Dataset(name="plate", zarr_dir="/data/<script>alert(1)</script>")
    ds.images.add(
        {
            "zarr_url": "/data/<script>alert(1)</script>/img<i>",
            "attributes": {"<img src=x>": "<script>x</script>"},
        }
    )
    for html in (ds._repr_html_(), ds.images._repr_html_()):
        assert "<script>" not in html and "<img" not in html and "<i>" not in html
        assert "&lt;script&gt;" in html
        parsed = parse(html)
        assert "script" not in parsed.tags and "img" not in parsed.tags
        assert any("<script>alert(1)</script>" in t for t in parsed.text)


def test_workflow_html_lists_tasks_in_order_with_types_and_args() -> None:
    group = make_group(3)
    wf = Workflow(name="w<1>")
    for i, task in enumerate(group.task_list):
        wf.append_task(task, validate_args=False, args_parallel={"x": i * 10})
    html = wf._repr_html_()
    assert "w&lt;1&gt;" in html and "3 tasks" in html
    text = "".join(parse(html).text)
    positions = [text.index(f"Task number {i}") for i in range(3)]
    assert positions == sorted(positions)
    assert text.count("parallel") >= 3
    assert '{"is_3D": true}' in text
    assert all(f'"x": {i * 10}' in text for i in range(3))


def test_task_group_html() -> None:
    group = make_group(2)
    group.active = False
    html = group._repr_html_()
    text = "".join(parse(html).text)
    assert "fractal-tasks-core 2.1.0" in text
    assert "origin: pypi" in text and "inactive" in text and "2 tasks" in text
    assert "Task number 0" in text and "Task number 1" in text
    assert rows(html) == 2


def test_empty_dataset() -> None:
    html = Dataset(name="e", zarr_dir="/z")._repr_html_()
    assert "0 images" in html and "No types." in html and "No attributes." in html
    assert re.search(r"<table>", html) is None
