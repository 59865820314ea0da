"""Shared hypothesis strategies: zarr URLs, attribute values, images, filters.

Import as `from tests.strategies import images, type_filters, ...`.
All strategies produce *valid, normalised* values unless their name says otherwise.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "ATTRIBUTE_KEYS",
    "TYPE_KEYS",
    "attribute_filters",
    "attribute_updates",
    "attribute_values",
    "image_attributes",
    "image_lists",
    "image_types",
    "images",
    "local_zarr_urls",
    "path_segments",
    "s3_zarr_urls",
    "type_filters",
    "zarr_urls",
]

TYPE_KEYS = ("3D", "is_corrected", "registered", "t")
"""Small key pools, so that random filters often hit random images."""

ATTRIBUTE_KEYS = ("well", "plate", "acquisition", "z")

path_segments = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-.#",
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
"""One path component: never empty, `.` or `..`."""


def _join(segments: list[str]) -> str:
    return "/".join(segments)


local_zarr_urls = st.lists(path_segments, min_size=1, max_size=4).map(
    lambda segs: "/" + _join(segs)
)
"""Normalised absolute local paths such as `/ab/c.zarr/0`."""

_buckets = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,10}[a-z0-9]\Z")

s3_zarr_urls = st.builds(
    lambda bucket, segs: "s3://" + _join([bucket, *segs]),
    _buckets,
    st.lists(path_segments, min_size=0, max_size=3),
)
"""Normalised `s3://bucket[/key...]` URLs."""

zarr_urls = st.one_of(local_zarr_urls, s3_zarr_urls)
"""Normalised zarr URLs, local or S3."""

attribute_values = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.floats(min_value=-3, max_value=3, allow_nan=False).map(lambda f: round(f, 1)),
    st.sampled_from(["A01", "A02", "B01", "1", ""]),
    st.booleans(),
)
"""Scalar attribute values (int, float, str, bool), drawn from small pools."""

image_types = st.dictionaries(st.sampled_from(TYPE_KEYS), st.booleans(), max_size=3)
"""An image's `types` dict."""

image_attributes = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS), attribute_values, max_size=3
)
"""An image's `attributes` dict (no None values)."""


attribute_updates = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS), attribute_values | st.none(), max_size=3
)
"""Task-output style attribute updates: a None value means "remove the key"."""


def _image(
    zarr_url: str, origin: str | None, attributes: dict, types: dict
) -> dict[str, Any]:
    return {
        "zarr_url": zarr_url,
        "origin": origin,
        "attributes": attributes,
        "types": types,
    }


def images(urls: st.SearchStrategy[str] = zarr_urls) -> st.SearchStrategy[dict]:
    """Valid stored image dicts with all four keys."""
    return st.builds(
        _image,
        urls,
        st.none() | zarr_urls,
        image_attributes,
        image_types,
    )


def image_lists(
    max_size: int = 20, urls: st.SearchStrategy[str] = zarr_urls
) -> st.SearchStrategy[list[dict]]:
    """Lists of images with unique zarr_urls."""
    return st.lists(
        images(urls), max_size=max_size, unique_by=lambda img: img["zarr_url"]
    )


type_filters = st.dictionaries(st.sampled_from(TYPE_KEYS), st.booleans(), max_size=3)
"""Valid type filters."""


@st.composite
def _homogeneous_list(draw: st.DrawFn) -> list:
    kind = draw(
        st.sampled_from(
            [
                st.integers(min_value=-3, max_value=3),
                st.sampled_from([-1.5, 0.0, 1.0, 2.5]),
                st.sampled_from(["A01", "A02", "B01", "1"]),
                st.booleans(),
            ]
        )
    )
    return draw(st.lists(kind, min_size=1, max_size=3))


attribute_filters = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS), _homogeneous_list(), max_size=2
)
"""Valid attribute filters: non-empty, type-homogeneous value lists."""


# ---------------------------------------------------------------------------
# Raw, possibly invalid inputs (side-by-side fidelity suite, tests/fidelity).
# Names starting with `raw_` may produce values that validation must refuse.
# ---------------------------------------------------------------------------

__all__ += [
    "RAW_KEYS",
    "SMALL_URL_POOL",
    "invalid_url_inputs",
    "loose_scalars",
    "loose_values",
    "messy_local_paths",
    "raw_attribute_filter_dicts",
    "raw_image_dicts",
    "raw_init_task_output_dicts",
    "raw_manifest_dicts",
    "raw_task_output_dicts",
    "raw_type_filter_dicts",
    "raw_url_inputs",
    "task_output_dicts",
]

RAW_KEYS = ("a", " a", "a ", "b", "3D", " 3D\t", "well", "", "  ", "\t")
"""Dict keys with surrounding whitespace, blanks and post-strip collisions."""

_raw_keys = st.sampled_from(RAW_KEYS)


def _messy_path(prefix: str, segments: list[str], trailing: str, pad: str) -> str:
    return f"{pad}{prefix}{'/'.join(segments)}{trailing}{pad}"


def _not_double_slash_rooted(path: str) -> bool:
    stripped = path.strip()
    return not (stripped.startswith("//") and not stripped.startswith("///"))


messy_local_paths = st.builds(
    _messy_path,
    st.sampled_from(["/", "///"]),
    st.lists(path_segments | st.sampled_from([".", ""]), min_size=0, max_size=4),
    st.sampled_from(["", "/", "//", "/."]),
    st.sampled_from(["", " ", "\t"]),
).filter(_not_double_slash_rooted)
"""Absolute local paths with `.`, repeated and trailing slashes, padding.

Never a `..` component and never exactly two leading slashes: both are
documented deliberate differences (docs/types-and-images.md).
"""

invalid_url_inputs = st.sampled_from(
    ["", "  ", "a/b", "./a", "~/x", "http://host/a", "S3://bucket/a", "file:///a"]
)
"""Strings both sides refuse as zarr URLs (no `s3` prefix: that is FOLLOW 1.1)."""

raw_url_inputs = st.one_of(messy_local_paths, invalid_url_inputs, local_zarr_urls)
"""Zarr-URL inputs, valid (possibly un-normalised) or invalid; never `s3...`."""

loose_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=3),
    st.sampled_from([0.0, 1.0, -1.5, 2.5]),
    st.sampled_from(["true", "false", "yes", "no", "on", "1", "0", "A01", ""]),
)
"""JSON scalars that probe lax coercion (`"yes"` -> True, `1.0` -> ...)."""

loose_values = st.one_of(
    loose_scalars,
    st.lists(loose_scalars, max_size=2),
    st.dictionaries(st.sampled_from(["k", " k"]), loose_scalars, max_size=1),
)
"""Any JSON value, mostly small scalars."""

raw_type_filter_dicts = st.dictionaries(_raw_keys, loose_values, max_size=4)
"""Type-filter candidates: raw keys, values of any JSON type."""

raw_attribute_filter_dicts = st.dictionaries(
    _raw_keys,
    st.one_of(st.lists(loose_scalars, max_size=3), loose_values),
    max_size=3,
)
"""Attribute-filter candidates: mostly lists (empty, mixed, with None)."""

raw_image_dicts = st.fixed_dictionaries(
    {"zarr_url": raw_url_inputs},
    optional={
        "origin": st.none() | raw_url_inputs,
        "attributes": st.dictionaries(_raw_keys, loose_values, max_size=3),
        "types": st.dictionaries(_raw_keys, loose_values, max_size=3),
        "extra_key": loose_scalars,
    },
)
"""Image-shaped dicts: URLs to normalise or refuse, raw attributes and types."""

SMALL_URL_POOL = ("/z/a", "/z/b", "/z/a/", "/z//b/./", "/z/c")
"""Few URLs (some equal after normalisation), so outputs repeat zarr_urls."""

_small_urls = st.sampled_from(SMALL_URL_POOL)

_output_images = st.builds(
    _image,
    _small_urls,
    st.none() | _small_urls,
    st.dictionaries(
        st.sampled_from(["well", "z"]),
        st.sampled_from([1, 1.0, True, None, "1"]),
        max_size=2,
    ),
    st.dictionaries(st.sampled_from(["3D", "t"]), st.booleans(), max_size=2),
)

task_output_dicts = st.fixed_dictionaries(
    {
        "image_list_updates": st.lists(_output_images, max_size=4),
        "image_list_removals": st.lists(_small_urls, max_size=3),
    }
)
"""Valid task outputs over a tiny URL pool (duplicates and 1/1.0/True likely)."""

raw_task_output_dicts = st.fixed_dictionaries(
    {},
    optional={
        "image_list_updates": st.lists(raw_image_dicts | _output_images, max_size=3),
        "image_list_removals": st.lists(_small_urls | raw_url_inputs, max_size=3),
        "unexpected": loose_scalars,
    },
)
"""Task-output candidates: raw images and URLs, sometimes an unknown key."""

raw_init_task_output_dicts = st.fixed_dictionaries(
    {},
    optional={
        "parallelization_list": st.lists(
            st.fixed_dictionaries(
                {"zarr_url": raw_url_inputs},
                optional={
                    "init_args": loose_values
                    | st.dictionaries(_raw_keys, loose_values, max_size=2),
                    "unexpected": loose_scalars,
                },
            ),
            max_size=3,
        ),
        "unexpected": loose_scalars,
    },
)
"""Init-task-output candidates."""

_manifest_tasks = st.fixed_dictionaries(
    {"name": st.sampled_from(["task", "other", " task", "", "x"])},
    optional={
        "executable_non_parallel": st.sampled_from(["np.py", None, "", 3]),
        "executable_parallel": st.sampled_from(["p.py", None]),
        "meta_non_parallel": st.dictionaries(_raw_keys, loose_scalars, max_size=2),
        "meta_parallel": st.dictionaries(_raw_keys, loose_scalars, max_size=2)
        | st.none(),
        "args_schema_non_parallel": st.none()
        | st.sampled_from([{}, {"type": "object"}, {" k": 1}]),
        "args_schema_parallel": st.none() | st.sampled_from([{}, {"title": "P"}]),
        "input_types": st.dictionaries(_raw_keys, loose_scalars, max_size=2),
        "output_types": st.dictionaries(_raw_keys, loose_scalars, max_size=2),
        "docs_info": st.sampled_from([None, "info", 1]),
        "docs_link": st.sampled_from(
            [None, "https://x.org/a", " http://x.org ", "ftp://x.org", "nope", ""]
        ),
        "category": st.sampled_from([None, "", "Conversion", 1]),
        "modality": st.sampled_from([None, "HCS", ""]),
        "tags": st.none() | st.lists(st.sampled_from(["a", "a", " b", ""]), max_size=3),
        "type": st.sampled_from(
            [
                None,
                "compound",
                "converter_compound",
                "non_parallel",
                "converter_non_parallel",
                "parallel",
                "Parallel",
            ]
        ),
        "unexpected": loose_scalars,
    },
)

raw_manifest_dicts = st.fixed_dictionaries(
    {
        "manifest_version": st.sampled_from(["2", "2", "2", 2, "1"]),
        "task_list": st.lists(_manifest_tasks, max_size=3),
    },
    optional={
        "has_args_schemas": st.sampled_from([True, False, "true", 1, "yes", None]),
        "args_schema_version": st.sampled_from(["pydantic_v2", None, "", 1]),
        "authors": st.sampled_from(["A", " ", "", None, " Bob "]),
        "unexpected": loose_scalars,
    },
)
"""Manifest candidates probing every TaskManifestV2/ManifestV2 rule."""

raw_task_create_dicts = st.fixed_dictionaries(
    {"name": st.sampled_from(["t", " t", ""])},
    optional={
        "command_non_parallel": st.sampled_from(
            ["python /a.py", " python /a.py ", "", "a;b", "a\nb"]
        ),
        "command_parallel": st.sampled_from(["python /b.py", "x$y"]),
        "meta_non_parallel": st.sampled_from([{}, {"a": 1}, None, {" a": 1, "a": 2}]),
        "meta_parallel": st.sampled_from([{}, {"b": 1}, None]),
        "version": st.sampled_from(["1.0", " ", "0.1a"]),
        "args_schema_non_parallel": st.sampled_from([{}, None, {"type": "object"}]),
        "args_schema_parallel": st.sampled_from([{}, None]),
        "args_schema_version": st.sampled_from(["pydantic_v2", ""]),
        "docs_info": st.sampled_from(["x", None, ""]),
        "docs_link": st.sampled_from(["https://a.org", None, "ftp://a", ""]),
        "input_types": st.sampled_from([{}, {"a": True}, {" a": "yes"}, None, {"": 1}]),
        "output_types": st.sampled_from([{}, {"b": False}, None]),
        "category": st.sampled_from(["c", None, "", " "]),
        "modality": st.sampled_from(["m", None, ""]),
        "tags": st.sampled_from([[], ["a"], ["a", " a"], None, [""], ["a", "b"]]),
        "authors": st.sampled_from(["me", None, ""]),
        "type": st.sampled_from(
            [
                "compound",
                "parallel",
                "non_parallel",
                "converter_compound",
                "converter_non_parallel",
                None,
                "x",
            ]
        ),
    },
)
"""Task-creation candidates (`TaskCreateV2` fields). Explicit None is never drawn
for the commands, `version` or `args_schema_version`: `Task` accepts it there
(docs/domain.md, "Task as create and read model")."""

__all__ += ["raw_task_create_dicts"]
