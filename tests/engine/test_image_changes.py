"""The per-task `ImageChanges` are enough to rebuild the image list (O(k) writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fractal_core.engine import ImageChanges
from fractal_core.engine import InMemoryRecorder
from fractal_core.engine import TaskApplied

from .harness import run
from .testkit import InstalledTestkit


class ChangesOnlyRecorder(InMemoryRecorder):
    """Rebuilds the image list from `changes` alone, as a database would."""

    def __init__(self) -> None:
        super().__init__()
        self.rebuilt: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[ImageChanges, list[dict[str, Any]]]] = []

    def task_applied(self, event: TaskApplied) -> None:
        changes = event.changes
        for image in changes.updated:
            assert image["zarr_url"] in self.rebuilt  # an update never inserts
            self.rebuilt[image["zarr_url"]] = image
        for image in changes.created:
            assert image["zarr_url"] not in self.rebuilt
            self.rebuilt[image["zarr_url"]] = image
        for url in changes.removed:
            del self.rebuilt[url]
        self.history.append((changes, event.images.to_list()))
        super().task_applied(event)


def test_changes_rebuild_every_intermediate_list(
    testkit: InstalledTestkit, tmp_path: Path
) -> None:
    recorder = ChangesOnlyRecorder()
    out = run(
        testkit,
        tmp_path,
        [
            ("create_images", {"args_non_parallel": {"num_images": 4}}),
            ("mark_image", {"args_parallel": {"copy_suffix": "_copy"}}),
            ("unset_attribute", {"args_non_parallel": {"attribute": "well"}}),
            ("remove_images", {"type_filters": {"marked": True}}),
            ("mark_image", {}),
        ],
        recorder=recorder,
    )
    assert out.error is None
    assert len(recorder.history) == 5
    for changes, images in recorder.history:
        assert len(changes) <= 2 * len(images) + 8
    assert list(recorder.rebuilt.values()) == out.images
    sizes = [
        (len(c.created), len(c.updated), len(c.removed)) for c, _ in recorder.history
    ]
    # create 4; copy 4 (originals touched: types change); unset 8; remove 4 copies;
    # mark the 4 originals
    print(sizes)
    assert sizes[0] == (4, 0, 0)
    assert sizes[1][0] == 4
    assert sizes[3] == (0, 0, 4)
