"""Property: merge + apply equals a literal implementation of the spec's rules.

The reference implementation below follows execution spec §3.6 and §4 step by
step on a plain list, with nested scans (as fractal-server 2.17.0 does); the
engine uses an index. For random image lists and random unit outputs, both
must give the same image list (order included) or fail with the same error.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fractal_core.engine.apply import apply_task_output
from fractal_core.engine.errors import DuplicateZarrUrlError
from fractal_core.engine.errors import MissingImageError
from fractal_core.engine.errors import NewImageOutsideZarrDirError
from fractal_core.engine.outputs import merge_task_outputs
from fractal_core.engine.outputs import validate_task_output

ZARR_DIR = "/z"
INSIDE = ["/z/a", "/z/b", "/z/c", "/z/d/0", "/z/e/1"]
# Universe where a string-prefix test and a component test agree.
URLS = [*INSIDE, "/z", "/other/x"]

keys = st.sampled_from(["k1", "k2", "k3"])
scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y"]), st.booleans())
type_dicts = st.dictionaries(
    st.sampled_from(["t1", "t2", "t3"]), st.booleans(), max_size=2
)


@st.composite
def stored_images(draw: st.DrawFn) -> list[dict[str, Any]]:
    urls = draw(st.lists(st.sampled_from(INSIDE), unique=True, max_size=4))
    images = []
    for url in urls:
        image = {
            "zarr_url": url,
            "origin": draw(st.one_of(st.none(), st.sampled_from(INSIDE))),
            "attributes": draw(st.dictionaries(keys, scalars, max_size=2)),
            "types": draw(type_dicts),
        }
        images.append(image)
    return images


@st.composite
def unit_output(draw: st.DrawFn) -> dict[str, Any]:
    updates = draw(
        st.lists(
            st.fixed_dictionaries(
                {"zarr_url": st.sampled_from(URLS)},
                optional={
                    "origin": st.one_of(st.none(), st.sampled_from(URLS)),
                    "attributes": st.dictionaries(
                        keys, st.one_of(st.none(), scalars), max_size=2
                    ),
                    "types": type_dicts,
                },
            ),
            max_size=3,
        )
    )
    removals = draw(st.lists(st.sampled_from(URLS), max_size=2))
    return {"image_list_updates": updates, "image_list_removals": removals}


class RefError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def reference(
    images: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    filtered: list[str],
    output_types: dict[str, bool],
) -> list[dict[str, Any]]:
    """Spec §3.6 + §4, literally, on a list."""
    tmp = copy.deepcopy(images)
    full = [
        {
            "zarr_url": u["zarr_url"],
            "origin": u.get("origin"),
            "attributes": u.get("attributes", {}),
            "types": u.get("types", {}),
        }
        for out in outputs
        for u in out["image_list_updates"]
    ]
    updates: list[dict[str, Any]] = []
    for u in full:
        if u not in updates:
            updates.append(u)
    removals = list({r for out in outputs for r in out["image_list_removals"]})
    if outputs and not updates and not removals:
        updates = [
            {"zarr_url": url, "origin": None, "attributes": {}, "types": {}}
            for url in filtered
        ]
    all_urls = [u["zarr_url"] for u in updates] + removals
    if len(all_urls) != len(set(all_urls)):
        raise RefError("duplicate")

    def find(url: str | None) -> int | None:
        for ind, img in enumerate(tmp):
            if img["zarr_url"] == url:
                return ind
        return None

    for u in updates:
        ind = find(u["zarr_url"])
        if ind is not None:
            if u["origin"] is None or u["origin"] == u["zarr_url"]:
                old = tmp[ind]
                attrs, types = dict(old["attributes"]), dict(old["types"])
                new = {"zarr_url": u["zarr_url"]}
                if "origin" in old:
                    new["origin"] = old["origin"]
            else:
                oind = find(u["origin"])
                attrs = dict(tmp[oind]["attributes"]) if oind is not None else {}
                types = dict(tmp[oind]["types"]) if oind is not None else {}
                new = {"zarr_url": u["zarr_url"], "origin": u["origin"]}
            attrs.update(u["attributes"])
            new["attributes"] = {k: v for k, v in attrs.items() if v is not None}
            types.update(u["types"])
            types.update(output_types)
            new["types"] = types
            tmp[ind] = new
        else:
            if not u["zarr_url"].startswith(ZARR_DIR) or u["zarr_url"] == ZARR_DIR:
                raise RefError("outside")
            oind = find(u["origin"])
            attrs = dict(tmp[oind]["attributes"]) if oind is not None else {}
            types = dict(tmp[oind]["types"]) if oind is not None else {}
            attrs.update(u["attributes"])
            types.update(u["types"])
            types.update(output_types)
            tmp.append(
                {
                    "zarr_url": u["zarr_url"],
                    "origin": u["origin"],
                    "attributes": {k: v for k, v in attrs.items() if v is not None},
                    "types": types,
                }
            )
    for url in removals:
        ind = find(url)
        if ind is None:
            raise RefError("missing")
        tmp.pop(ind)
    return tmp


ENGINE_ERRORS = {
    DuplicateZarrUrlError: "duplicate",
    NewImageOutsideZarrDirError: "outside",
    MissingImageError: "missing",
}


def engine(
    images: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    filtered: list[str],
    output_types: dict[str, bool],
) -> list[dict[str, Any]]:
    validated = [validate_task_output(out) for out in outputs]
    merged = merge_task_outputs(validated, filtered)
    try:
        merged.check_zarr_urls_are_unique()
        index = {img["zarr_url"]: img for img in images}
        applied = apply_task_output(
            index, merged, zarr_dir=ZARR_DIR, output_types=output_types
        )
    except tuple(ENGINE_ERRORS) as exc:
        raise RefError(ENGINE_ERRORS[type(exc)]) from exc
    return list(applied.images.values())


def _outcome(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except RefError as exc:
        return ("error", exc.kind)


@given(
    images=stored_images(),
    outputs=st.lists(unit_output(), max_size=3),
    output_types=type_dicts,
    data=st.data(),
)
def test_engine_apply_equals_reference(
    images: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    output_types: dict[str, bool],
    data: st.DataObject,
) -> None:
    urls = [img["zarr_url"] for img in images]
    filtered = data.draw(
        st.lists(st.sampled_from(urls), unique=True).map(
            lambda chosen: [u for u in urls if u in chosen]
        )
        if urls
        else st.just([])
    )
    before = copy.deepcopy(images)
    expected = _outcome(reference, images, outputs, filtered, output_types)
    got = _outcome(engine, images, outputs, filtered, output_types)
    assert got == expected
    assert images == before  # the input is never mutated (atomicity)


@given(images=stored_images(), output_types=type_dicts)
def test_no_output_touches_every_input_image(
    images: list[dict[str, Any]], output_types: dict[str, bool]
) -> None:
    urls = [img["zarr_url"] for img in images]
    result = engine(images, [{}], urls, output_types)
    assert [img["zarr_url"] for img in result] == urls
    for img in result:
        assert output_types.items() <= img["types"].items()


@given(images=stored_images(), output_types=type_dicts)
def test_all_units_failed_changes_nothing(
    images: list[dict[str, Any]], output_types: dict[str, bool]
) -> None:
    urls = [img["zarr_url"] for img in images]
    assert engine(images, [], urls, output_types) == images
