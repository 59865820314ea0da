"""ImageList agrees with a naive list of dicts on random operation sequences."""

from __future__ import annotations

import copy

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule

from fractal_core.images import DuplicateImageError
from fractal_core.images import ImageList
from fractal_core.images import ImageNotFoundError
from fractal_core.images import filter_image_list
from fractal_core.images import find_image_by_zarr_url
from tests.strategies import attribute_filters
from tests.strategies import attribute_updates
from tests.strategies import image_types
from tests.strategies import images
from tests.strategies import type_filters

URLS = st.sampled_from([f"/data/plate.zarr/{i}" for i in range(8)] + ["s3://b/k"])
"""A small pool, so that operations often hit existing images."""


class ImageListMachine(RuleBasedStateMachine):
    """Model: a plain list of dicts manipulated the reference's way."""

    def __init__(self) -> None:
        super().__init__()
        self.real = ImageList()
        self.model: list[dict] = []
        self.snapshot: ImageList | None = None
        self.snapshot_model: list[dict] = []

    def _find(self, url: str) -> dict | None:
        return find_image_by_zarr_url(images=self.model, zarr_url=url)

    @rule(image=images(URLS))
    def add(self, image: dict) -> None:
        if self._find(image["zarr_url"]) is None:
            self.real.add(image)
            self.model.append(copy.deepcopy(image))
        else:
            try:
                self.real.add(image)
            except DuplicateImageError:
                return
            raise AssertionError("duplicate accepted")

    @rule(image=images(URLS))
    def set(self, image: dict) -> None:
        self.real.set(image)
        found = self._find(image["zarr_url"])
        if found is None:
            self.model.append(copy.deepcopy(image))
        else:
            self.model[found["index"]] = copy.deepcopy(image)

    @rule(
        url=URLS,
        attributes=attribute_updates | st.none(),
        types=image_types | st.none(),
    )
    def update(self, url: str, attributes: dict | None, types: dict | None) -> None:
        found = self._find(url)
        if found is None:
            try:
                self.real.update(url, attributes=attributes, types=types)
            except ImageNotFoundError:
                return
            raise AssertionError("update of a missing image accepted")
        self.real.update(url, attributes=attributes, types=types)
        image = found["image"]
        merged = {**image["attributes"], **(attributes or {})}
        image["attributes"] = {k: v for k, v in merged.items() if v is not None}
        image["types"] = {**image["types"], **(types or {})}
        self.model[found["index"]] = image

    @rule(url=URLS)
    def remove(self, url: str) -> None:
        found = self._find(url)
        if found is None:
            try:
                self.real.remove(url)
            except ImageNotFoundError:
                return
            raise AssertionError("removal of a missing image accepted")
        self.real.remove(url)
        del self.model[found["index"]]

    @rule()
    def take_snapshot(self) -> None:
        self.snapshot = self.real.copy()
        self.snapshot_model = copy.deepcopy(self.model)

    @precondition(lambda self: self.snapshot is not None)
    @invariant()
    def snapshot_unchanged(self) -> None:
        assert self.snapshot is not None
        assert self.snapshot.to_list() == self.snapshot_model

    @rule(types=type_filters, attrs=attribute_filters)
    def filter_agrees(self, types: dict, attrs: dict) -> None:
        expected = filter_image_list(self.model, types, attrs)
        assert self.real.filter(types, attrs) == expected

    @rule(url=URLS)
    def lookup_agrees(self, url: str) -> None:
        found = self._find(url)
        assert (url in self.real) == (found is not None)
        assert self.real.get(url) == (None if found is None else found["image"])

    @invariant()
    def same_list(self) -> None:
        assert len(self.real) == len(self.model)
        assert self.real.zarr_urls() == [i["zarr_url"] for i in self.model]
        assert self.real == self.model


TestImageListMachine = ImageListMachine.TestCase
TestImageListMachine.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
