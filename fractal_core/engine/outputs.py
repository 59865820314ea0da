"""Task outputs: validation of `--out-json` content, merge, de-duplication.

Units write `TaskOutput` (or, for a compound init, `InitTaskOutput`) as JSON.
Validation is strict at the top level (`extra="forbid"`) and normalises every
zarr URL. After validation the engine works on plain dicts: merging and applying
100,000 image updates must not cost one pydantic model per image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError

from ..images.models import SingleImageTaskOutput
from ..types import ZarrUrlStr
from ._gc import gc_paused
from .errors import DuplicateZarrUrlError
from .errors import TaskOutputValidationError

__all__ = [
    "InitArgsModel",
    "InitTaskOutput",
    "MergedOutput",
    "TaskOutput",
    "as_plain",
    "deduplicate_list",
    "excerpt",
    "merge_outputs",
    "merge_task_outputs",
    "validate_init_task_output",
    "validate_task_output",
]

ImageUpdate = dict[str, Any]

# Error messages stay below about MESSAGE_LIMIT characters whatever a task
# wrote: a 50 MB output is named by file, field and excerpt, never copied.
# Messages under the limit are left exactly as the reference words them.
MESSAGE_LIMIT = 10_000
EXCERPT_CHARS = 200
ERROR_CHARS = 4_000


class TaskOutput(BaseModel):
    """What a non-init unit may write: image updates and removals."""

    model_config = ConfigDict(extra="forbid")

    image_list_updates: list[SingleImageTaskOutput] = Field(default_factory=list)
    image_list_removals: list[ZarrUrlStr] = Field(default_factory=list)

    def check_zarr_urls_are_unique(self) -> None:
        """DuplicateZarrUrlError if a zarr_url is updated twice or updated+removed."""
        check_zarr_urls_are_unique(
            [img.zarr_url for img in self.image_list_updates],
            list(self.image_list_removals),
        )


class InitArgsModel(BaseModel):
    """One item of a compound task's parallelisation list."""

    model_config = ConfigDict(extra="forbid")

    zarr_url: ZarrUrlStr
    init_args: dict[str, Any] = Field(default_factory=dict)


class InitTaskOutput(BaseModel):
    """What a compound init unit may write: its parallelisation list."""

    model_config = ConfigDict(extra="forbid")

    parallelization_list: list[InitArgsModel] = Field(default_factory=list)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` itself, or its first `limit` characters and how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def _where(output_file: Path | str | None) -> str:
    return f" (output file: {output_file})" if output_file is not None else ""


def _invalid_output(
    label: str, output_file: Path | str | None, error: str, data: Any
) -> TaskOutputValidationError:
    """The reference's message; error and data cut to excerpts if it is too long."""
    head = f"Validation of {label} failed{_where(output_file)}.\nOriginal error: "
    data_text = str(data)
    if len(head) + len(error) + len(data_text) + 18 > MESSAGE_LIMIT:
        error = excerpt(error, ERROR_CHARS)
        data_text = excerpt(data_text, EXCERPT_CHARS)
    return TaskOutputValidationError(f"{head}{error}\nOriginal data: {data_text}.")


def _validate(
    model: type[BaseModel], value: Any, label: str, output_file: Path | str | None
) -> Any:
    if not isinstance(value, Mapping):
        # The reference lets a TypeError escape here; we call it an invalid output.
        raise _invalid_output(
            label,
            output_file,
            f"the output must be a JSON object, not {type(value).__name__}.",
            value,
        )
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        raise _invalid_output(label, output_file, str(exc), value) from exc


def validate_task_output(
    value: Any, output_file: Path | str | None = None
) -> TaskOutput:
    """Validate a unit's output; TaskOutputValidationError naming file and field."""
    return _validate(TaskOutput, value, "task output", output_file)


def validate_init_task_output(
    value: Any, output_file: Path | str | None = None
) -> InitTaskOutput:
    """Validate a compound init output; same error contract as task outputs."""
    return _validate(InitTaskOutput, value, "init-task output", output_file)


def _freeze(value: Any) -> Any:
    """A hashable stand-in with the same `==` semantics as the JSON value."""
    if isinstance(value, dict):
        return ("__dict__", frozenset((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("__list__", tuple(_freeze(v) for v in value))
    return value


def _image_key(image: dict[str, Any]) -> Any:
    """Fast exact key of an image update (attribute and type values are scalars)."""
    return (
        image["zarr_url"],
        image["origin"],
        frozenset(image["attributes"].items()),
        frozenset(image["types"].items()),
    )


def deduplicate_list(items: Iterable[Any]) -> list[Any]:
    """Drop items equal to an earlier one (first kept, order preserved); O(n).

    Items are dicts or pydantic models (compared by `model_dump()`); equality
    is that of the dumped dicts, as in the reference (so `1 == 1.0`).
    """
    seen: set[Any] = set()
    out: list[Any] = []
    for item in items:
        key = _freeze(item.model_dump() if isinstance(item, BaseModel) else item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _deduplicate_images(images: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop exact duplicates; only entries sharing a zarr_url are compared.

    One dict entry per url, a list only for urls seen with different content
    (rare): 100,000 updates do not allocate 100,000 lists.
    """
    first: dict[str, dict[str, Any]] = {}
    others: dict[str, list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for image in images:
        url = image["zarr_url"]
        seen = first.get(url)
        if seen is None:
            first[url] = image
            out.append(image)
            continue
        key = _image_key(image)
        kept = others.setdefault(url, [])
        if _image_key(seen) == key or any(_image_key(o) == key for o in kept):
            continue
        kept.append(image)
        out.append(image)
    return out


def _as_update(image: SingleImageTaskOutput) -> ImageUpdate:
    """The dumped form of a validated update, without pydantic's dump overhead.

    The dicts are the model's own (validated, never mutated afterwards).
    """
    return {
        "zarr_url": image.zarr_url,
        "origin": image.origin,
        "attributes": image.attributes,
        "types": image.types,
    }


@dataclass
class MergedOutput:
    """The merged output of all successful units of one task, as plain dicts."""

    image_list_updates: list[ImageUpdate] = field(default_factory=list)
    image_list_removals: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.image_list_updates and not self.image_list_removals

    def check_zarr_urls_are_unique(self) -> None:
        """DuplicateZarrUrlError if a zarr_url is updated twice or updated+removed."""
        check_zarr_urls_are_unique(
            [img["zarr_url"] for img in self.image_list_updates],
            self.image_list_removals,
        )

    def model_dump(self) -> dict[str, Any]:
        """The same dict as the reference's `TaskOutput.model_dump()` (copies)."""
        return {
            "image_list_updates": [
                {
                    **img,
                    "attributes": dict(img["attributes"]),
                    "types": dict(img["types"]),
                }
                for img in self.image_list_updates
            ],
            "image_list_removals": list(self.image_list_removals),
        }


def check_zarr_urls_are_unique(updates: list[str], removals: list[str]) -> None:
    """Raise DuplicateZarrUrlError listing every repeated url (reference message).

    Past MESSAGE_LIMIT characters the list stops with how many urls were left out.
    """
    counts = Counter(updates)
    counts.update(removals)
    duplicates = [url for url, n in counts.items() if n > 1]
    if not duplicates:
        return
    lines = [
        f"TaskOutput ({len(updates)} image_list_updates and "
        f"{len(removals)} image_list_removals) has non-unique zarr_urls:"
    ]
    size = len(lines[0])
    for shown, url in enumerate(duplicates):
        line = excerpt(url, ERROR_CHARS)
        if size + len(line) + 1 > MESSAGE_LIMIT:
            lines.append(f"… ({len(duplicates) - shown} more zarr_urls)")
            break
        lines.append(line)
        size += len(line) + 1
    raise DuplicateZarrUrlError("\n".join(lines))


def as_plain(
    output: TaskOutput | MergedOutput, *, pause_gc: bool = False
) -> MergedOutput:
    """A validated output as plain dicts (the engine's working form)."""
    if isinstance(output, MergedOutput):
        return output
    with gc_paused(pause_gc):
        return MergedOutput(
            image_list_updates=[_as_update(img) for img in output.image_list_updates],
            image_list_removals=list(output.image_list_removals),
        )


def merge_outputs(
    task_outputs: Iterable[TaskOutput | MergedOutput], *, pause_gc: bool = False
) -> MergedOutput:
    """Concatenate outputs in unit order; de-duplicate updates and removals.

    Updates: exact duplicates dropped (first kept). Removals: duplicates dropped
    keeping first-seen order (the reference uses a set, so its order is random).
    `pause_gc=True` pauses the process-wide cyclic collector (see `_gc`).
    """
    updates: list[ImageUpdate] = []
    removals: list[str] = []
    with gc_paused(pause_gc):
        for out in task_outputs:
            plain = as_plain(out)
            updates.extend(plain.image_list_updates)
            removals.extend(plain.image_list_removals)
        return MergedOutput(
            image_list_updates=_deduplicate_images(updates),
            image_list_removals=list(dict.fromkeys(removals)),
        )


def merge_task_outputs(
    outputs: Sequence[TaskOutput | MergedOutput],
    input_zarr_urls: Sequence[str],
    *,
    pause_gc: bool = False,
) -> MergedOutput:
    """Merge the successful units' outputs of one task (spec §4.1 step 1).

    No output at all (every unit failed) changes nothing. Outputs that neither
    update nor remove any image mean "every input image was touched": each
    input image gets an empty update, so the task's `output_types` reach it.
    """
    if not outputs:
        return MergedOutput()
    merged = merge_outputs(outputs, pause_gc=pause_gc)
    if merged.is_empty:
        merged = MergedOutput(
            image_list_updates=[
                {"zarr_url": url, "origin": None, "attributes": {}, "types": {}}
                for url in input_zarr_urls
            ]
        )
    return merged
