"""HTML views against hostile and huge input: markup in any name, attribute,
type, argument, failure message, cancel reason or log reaches the page as
text (only the renderers' own attribute-free tags), megabyte strings and
thousands of attribute keys render bounded, and a big dataset's values are
rendered once per shown value, not once per image."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fractal_core.domain.dataset import Dataset
from fractal_core.domain.workflow import Workflow
from fractal_core.views import html as views_html
from fractal_core.views.html import job_html

from .test_reprs import make_group

EVIL = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</td></tr></table><iframe src=//x>",
    "&lt;b&gt; already escaped",
    "<!-- comment --><style>*{}</style>",
]
ALLOWED_TAGS = {
    "div", "h4", "h5", "p", "table", "thead", "tbody", "tr", "th", "td",
    "code", "strong", "ul", "li", "pre",
}  # fmt: skip


class _Tags(HTMLParser):
    """Start tags with their attributes, comments, and the text of a fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[Any]]] = []
        self.comments: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[Any]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_inert(html: str, *originals: str) -> str:
    """Only our tags, no attributes, no comments; each original shows as text."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS, parser.tags
    assert all(attrs == [] for _, attrs in parser.tags), parser.tags
    assert parser.comments == []
    text = "".join(parser.text)
    for original in originals:
        assert original in text, original
    return text


@pytest.mark.parametrize("evil", EVIL)
def test_markup_in_dataset_names_urls_attributes_and_types_is_text(evil: str) -> None:
    ds = Dataset(name="plate", zarr_dir="/data/zarr")
    ds.images.add(
        {
            "zarr_url": f"/data/zarr/{evil}",
            "origin": f"/data/{evil}",
            "attributes": {evil: evil},
            "types": {evil: True},
        }
    )
    (image,) = list(ds.images)  # the URL as stored (normalised: '//' -> '/')
    _check_inert(ds._repr_html_(), evil)  # the type name row shows it raw
    _check_inert(ds.images._repr_html_(), image["zarr_url"], image["origin"])


@pytest.mark.parametrize("evil", EVIL)
def test_markup_in_workflow_task_and_group_fields_is_text(evil: str) -> None:
    group = make_group(2)
    group.task_list[0].name = evil
    group.pkg_name = evil
    workflow = Workflow(name=evil)
    workflow.append_task(
        group.task_list[0], validate_args=False, args_parallel={evil: evil}
    )
    workflow.task_list[0].alias = evil
    _check_inert(workflow._repr_html_(), evil)
    _check_inert(group._repr_html_(), evil)


@pytest.mark.parametrize("evil", EVIL)
def test_markup_in_failures_reasons_and_logs_is_text(evil: str, tmp_path: Path) -> None:
    log = tmp_path / "unit.log"
    log.write_text(f"Traceback...\n{evil}\n")
    task = SimpleNamespace(
        order=0,
        key=1,
        name=evil,
        status="failed",
        units_done=0,
        units_total=1,
        units_failed=1,
        images_done=0,
        images_total=1,
        images_failed=1,
    )
    outcome = SimpleNamespace(
        job_id=evil,
        status="failed",
        progress=[task],
        cancel_reason=evil,
        failures=[
            SimpleNamespace(
                task_name=evil,
                zarr_urls=[f"/z/{evil}"],
                log_file=str(log),
                message=f"ValueError: {evil}",
            )
        ],
        image_status=lambda key: {f"/z/{evil}": evil},
    )
    text = _check_inert(job_html(outcome), f"ValueError: {evil}", f"/z/{evil}")
    assert text.count(evil) >= 5  # job id, task, reason, failure, log, status


def test_megabyte_strings_render_clipped() -> None:
    big = "x" * 2_000_000
    ds = Dataset(name="d", zarr_dir="/z")
    ds.images.add(
        {"zarr_url": f"/z/{big}", "attributes": {big[:50_000]: big}, "types": {}}
    )
    workflow = Workflow(name=big)
    for html in (ds._repr_html_(), ds.images._repr_html_(), workflow._repr_html_()):
        assert len(html) < 10_000
        assert "…" in html


def test_thousands_of_attribute_keys_show_the_first_rows_and_say_how_many_more() -> (
    None
):
    ds = Dataset(name="d", zarr_dir="/z")
    for i in range(3_000):
        ds.images.add({"zarr_url": f"/z/{i}", "attributes": {f"key{i:05d}": i}})
    html = ds._repr_html_()
    assert len(html) < 20_000
    assert f"… {3_000 - views_html.DEFAULT_ROWS} more attributes" in html
    assert f"… {3_000 - views_html.DEFAULT_ROWS} more images" in html


def test_distinct_values_are_rendered_only_when_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = [
        {"zarr_url": f"/z/{i}", "attributes": {"index": i, "well": f"A{i % 3}"}}
        for i in range(5_000)
    ]
    ds = Dataset(name="d", zarr_dir="/z", images=images)
    calls = []
    original = views_html._compact

    def counting(value: Any, limit: int = 80) -> str:
        calls.append(value)
        return original(value, limit)

    monkeypatch.setattr(views_html, "_compact", counting)
    text = _check_inert(ds._repr_html_())
    # shown: 10 of the 5,000 index values, 3 wells, then 20 image rows x 2 cells
    assert len(calls) <= views_html.MAX_VALUES + 3 + 2 * views_html.DEFAULT_ROWS
    assert f"… {5_000 - views_html.MAX_VALUES} more values" in text
    assert '"A0" (1667)' in text and '"A1" (1667)' in text and '"A2" (1666)' in text
