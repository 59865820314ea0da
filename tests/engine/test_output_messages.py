"""Task-output errors stay small whatever the output; the collector stays on.

Messages of normal-sized outputs are the reference's, byte for byte (pinned by
tests/fidelity/test_fidelity_outputs.py); past `MESSAGE_LIMIT` they keep the
output file, the field and an excerpt of the value.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fractal_core.engine._gc import gc_paused
from fractal_core.engine.apply import apply_task_output
from fractal_core.engine.errors import DuplicateZarrUrlError
from fractal_core.engine.errors import MissingImageError
from fractal_core.engine.errors import NewImageOutsideZarrDirError
from fractal_core.engine.errors import TaskOutputValidationError
from fractal_core.engine.fast_output import parse_task_output
from fractal_core.engine.outputs import MESSAGE_LIMIT
from fractal_core.engine.outputs import MergedOutput
from fractal_core.engine.outputs import excerpt
from fractal_core.engine.outputs import merge_task_outputs
from fractal_core.engine.outputs import validate_init_task_output
from fractal_core.engine.outputs import validate_task_output

BOUND = MESSAGE_LIMIT + 500  # the limit plus the fixed header and markers
ZARR_DIR = "/data/zarr"


def _write_big_output(path: Path, bad_index: int) -> dict[str, Any]:
    """About 50 MB of image updates, one of which has an invalid attribute."""
    filler = "x" * 2_000
    updates = [
        {
            "zarr_url": f"{ZARR_DIR}/plate.zarr/A/{i:06d}/0",
            "attributes": {"note": filler, "well": f"A{i:06d}"},
            "types": {"3D": True},
        }
        for i in range(25_000)
    ]
    updates[bad_index]["attributes"]["bad"] = {"nested": "dict"}
    path.write_text(json.dumps({"image_list_updates": updates}))
    assert path.stat().st_size > 50_000_000
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_big_invalid_output_gives_a_bounded_message(tmp_path: Path) -> None:
    out_file = tmp_path / "0_par_0000000-metadiff.json"
    value = _write_big_output(out_file, bad_index=12_345)
    with pytest.raises(TaskOutputValidationError) as info:
        parse_task_output(value, out_file)
    message = str(info.value)
    assert len(message) < BOUND
    assert str(out_file) in message
    assert "image_list_updates.12345.attributes.bad" in message
    assert "more characters)" in message
    assert message.startswith("Validation of task output failed (output file: ")


def test_huge_invalid_value_is_excerpted(tmp_path: Path) -> None:
    bad = {"bad": ["y" * 10**6]}
    value = {"image_list_updates": [{"zarr_url": f"{ZARR_DIR}/a", "attributes": bad}]}
    with pytest.raises(TaskOutputValidationError) as info:
        validate_task_output(value, tmp_path / "out.json")
    message = str(info.value)
    assert len(message) < BOUND
    assert "image_list_updates.0.attributes.bad" in message
    assert "yyyy" in message  # an excerpt of the value


def test_huge_non_object_output_is_excerpted() -> None:
    value = list(range(500_000))
    with pytest.raises(TaskOutputValidationError) as info:
        validate_init_task_output(value, "/jobs/1/init.json")
    message = str(info.value)
    assert len(message) < BOUND
    assert "must be a JSON object, not list" in message
    assert "/jobs/1/init.json" in message
    assert message.endswith("more characters).")


def test_small_messages_keep_the_reference_wording() -> None:
    with pytest.raises(TaskOutputValidationError) as info:
        validate_task_output([1, 2], "/o.json")
    assert str(info.value) == (
        "Validation of task output failed (output file: /o.json).\n"
        "Original error: the output must be a JSON object, not list.\n"
        "Original data: [1, 2]."
    )
    value = {"foo": 1}
    with pytest.raises(TaskOutputValidationError) as info:
        validate_task_output(value)
    assert str(info.value).endswith("\nOriginal data: {'foo': 1}.")
    assert str(info.value).startswith(
        "Validation of task output failed.\nOriginal error: 1 validation error"
    )


def test_many_duplicates_give_a_bounded_message() -> None:
    urls = [f"{ZARR_DIR}/plate.zarr/A/{i:06d}/0" for i in range(100_000)]
    merged = MergedOutput(
        image_list_updates=[
            {"zarr_url": u, "origin": None, "attributes": {}, "types": {}} for u in urls
        ],
        image_list_removals=urls,
    )
    with pytest.raises(DuplicateZarrUrlError) as info:
        merged.check_zarr_urls_are_unique()
    message = str(info.value)
    assert len(message) < BOUND
    assert message.startswith(
        "TaskOutput (100000 image_list_updates and 100000 image_list_removals) "
        "has non-unique zarr_urls:\n" + urls[0] + "\n" + urls[1] + "\n"
    )
    assert message.endswith("more zarr_urls)")


def test_few_duplicates_keep_the_reference_wording() -> None:
    with pytest.raises(DuplicateZarrUrlError) as info:
        MergedOutput(
            image_list_updates=[],
            image_list_removals=["/a", "/a", "/b", "/b"],
        ).check_zarr_urls_are_unique()
    assert str(info.value) == (
        "TaskOutput (0 image_list_updates and 4 image_list_removals) "
        "has non-unique zarr_urls:\n/a\n/b"
    )


def test_huge_urls_in_apply_errors_are_excerpted() -> None:
    huge = f"/elsewhere/{'z' * 10**6}"
    outside = MergedOutput(
        image_list_updates=[
            {"zarr_url": huge, "origin": None, "attributes": {}, "types": {}}
        ]
    )
    with pytest.raises(NewImageOutsideZarrDirError) as info:
        apply_task_output({}, outside, zarr_dir=ZARR_DIR, output_types={})
    assert len(str(info.value)) < BOUND
    assert "zarr_url: /elsewhere/zzz" in str(info.value)
    with pytest.raises(MissingImageError) as missing:
        apply_task_output(
            {},
            MergedOutput(image_list_removals=[huge]),
            zarr_dir=ZARR_DIR,
            output_types={},
        )
    assert len(str(missing.value)) < BOUND
    assert str(missing.value).startswith("Cannot remove missing image (zarr_url=")


@given(st.text(max_size=600), st.integers(1, 300))
def test_excerpt(text: str, limit: int) -> None:
    cut = excerpt(text, limit)
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut == f"{text[:limit]}… ({len(text) - limit} more characters)"


# The cyclic collector is process-global: the engine must leave it alone.


ENGINE_DIR = str(Path(apply_task_output.__code__.co_filename).parent)


def _inside_engine() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(ENGINE_DIR):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """Generations collected automatically while engine code was running.

    A paused call may still see one: the collection that runs as soon as the
    pause ends, before the call returns.
    """
    seen: list[int] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and _inside_engine():
            seen.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(callback)
    yield seen
    gc.callbacks.remove(callback)
    assert gc.isenabled()


def _big_raw_output(n: int = 50_000) -> dict[str, Any]:
    return {
        "image_list_updates": [
            {"zarr_url": f"{ZARR_DIR}/p.zarr/{i}", "attributes": {"i": i}}
            for i in range(n)
        ]
    }


def test_bulk_functions_leave_the_collector_running(collections: list[int]) -> None:
    """Another thread of the host application keeps its garbage collection."""
    raw = _big_raw_output()
    parsed = parse_task_output(raw)
    merged = merge_task_outputs([parsed], [])
    index = {u["zarr_url"]: u for u in merged.image_list_updates}
    apply_task_output(index, merged, zarr_dir=ZARR_DIR, output_types={"x": True})
    assert len(collections) > 10  # before: paused, none could run inside


def test_opt_in_pause_stops_collections_and_restores(collections: list[int]) -> None:
    raw = _big_raw_output()
    index = {u["zarr_url"]: u for u in parse_task_output(raw).image_list_updates}
    collections.clear()
    parsed = parse_task_output(raw, pause_gc=True)
    merged = merge_task_outputs([parsed], [], pause_gc=True)
    apply_task_output(index, merged, zarr_dir=ZARR_DIR, output_types={}, pause_gc=True)
    assert len(collections) <= 3  # at most the one as each pause ends
    with gc_paused(True):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_restore_the_first_state() -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused(True):
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=other)
    with gc_paused(True):
        thread.start()
        assert entered.wait(30)
    assert not gc.isenabled()  # the other thread still pauses it
    release.set()
    thread.join(30)
    assert gc.isenabled()


def test_pause_keeps_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with gc_paused(True):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
