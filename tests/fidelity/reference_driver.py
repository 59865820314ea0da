"""Evaluate batched requests against fractal-server 2.17.0 (run with its venv python).

Reads batches from stdin, one per line: a JSON list of requests
`{"fn": name, "args": {...}}`; for each batch it writes one line, the JSON list
of answers, one per request, in order: `{"ok": result}` or
`{"error": {"type": exception class name, "message": str(exc)}}`. The same
requests are evaluated with fractal_core by `reference.py::evaluate_ours`, so
both sides answer in the same JSON shape. This file must import nothing from
fractal_core or from the tests: it runs in a venv that only has fractal-server.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

for _var in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "JWT_SECRET_KEY"):
    os.environ.setdefault(_var, "fidelity")

from fractal_server.app.schemas.v2.job import JobCreateV2  # noqa: E402
from fractal_server.app.schemas.v2.manifest import ManifestV2  # noqa: E402
from fractal_server.app.schemas.v2.task import TaskCreateV2  # noqa: E402
from fractal_server.images import SingleImage  # noqa: E402
from fractal_server.images import SingleImageTaskOutput  # noqa: E402
from fractal_server.images import SingleImageUpdate  # noqa: E402
from fractal_server.images import tools  # noqa: E402
from fractal_server.runner import task_files  # noqa: E402
from fractal_server.runner.set_start_and_last_task_index import (  # noqa: E402
    set_start_and_last_task_index,
)
from fractal_server.runner.v2 import task_interface  # noqa: E402
from fractal_server.runner.v2.deduplicate_list import deduplicate_list  # noqa: E402
from fractal_server.runner.v2.merge_outputs import merge_outputs  # noqa: E402
from fractal_server.string_tools import interpret_as_bool  # noqa: E402
from fractal_server.string_tools import sanitize_string  # noqa: E402
from fractal_server.string_tools import validate_cmd  # noqa: E402
from fractal_server.tasks.v2.utils_package_names import normalize_package_name  # noqa: E402
from fractal_server.tasks.v2.utils_pixi import simplify_pyproject_toml  # noqa: E402
from fractal_server.types import AbsolutePathStr  # noqa: E402
from fractal_server.types import AttributeFilters  # noqa: E402
from fractal_server.types import DictStrAny  # noqa: E402
from fractal_server.types import DictStrStr  # noqa: E402
from fractal_server.types import HttpUrlStr  # noqa: E402
from fractal_server.types import ListUniqueAbsolutePathStr  # noqa: E402
from fractal_server.types import ListUniqueNonEmptyString  # noqa: E402
from fractal_server.types import ListUniqueNonNegativeInt  # noqa: E402
from fractal_server.types import NonEmptyStr  # noqa: E402
from fractal_server.types import TypeFilters  # noqa: E402
from fractal_server.types import WorkflowTaskArgument  # noqa: E402
from fractal_server.types import ZarrUrlStr  # noqa: E402
from fractal_server.types.validators import val_http_url  # noqa: E402
from fractal_server.types.validators import val_unique_list  # noqa: E402
from fractal_server.types.validators import valdict_keys  # noqa: E402
from fractal_server.types.validators import validate_attribute_filters  # noqa: E402
from fractal_server.types.validators import validate_wft_args  # noqa: E402
from fractal_server.urls import normalize_url  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

MODELS: dict[str, Any] = {
    "SingleImage": SingleImage,
    "SingleImageTaskOutput": SingleImageTaskOutput,
    "TaskOutput": task_interface.TaskOutput,
    "InitTaskOutput": task_interface.InitTaskOutput,
    "ManifestV2": ManifestV2,
    "TaskCreate": TaskCreateV2,
    "JobCreate": JobCreateV2,
    "TypeFilters": TypeAdapter(TypeFilters),
    "AttributeFilters": TypeAdapter(AttributeFilters),
    "SingleImageUpdate": SingleImageUpdate,
    "NonEmptyStr": TypeAdapter(NonEmptyStr),
    "HttpUrlStr": TypeAdapter(HttpUrlStr),
    "AbsolutePathStr": TypeAdapter(AbsolutePathStr),
    "ZarrUrlStr": TypeAdapter(ZarrUrlStr),
    "DictStrAny": TypeAdapter(DictStrAny),
    "DictStrStr": TypeAdapter(DictStrStr),
    "ListUniqueNonEmptyString": TypeAdapter(ListUniqueNonEmptyString),
    "ListUniqueNonNegativeInt": TypeAdapter(ListUniqueNonNegativeInt),
    "ListUniqueAbsolutePathStr": TypeAdapter(ListUniqueAbsolutePathStr),
    "WorkflowTaskArgument": TypeAdapter(WorkflowTaskArgument),
}


def _validate(model: str, data: Any) -> Any:
    validator = MODELS[model]
    if isinstance(validator, TypeAdapter):
        return validator.dump_python(validator.validate_python(data), mode="json")
    return validator.model_validate(data).model_dump(mode="json")


def _merge_type_filters(task_input_types: dict, wftask_type_filters: dict) -> dict:
    return tools.merge_type_filters(
        task_input_types=dict(task_input_types),
        wftask_type_filters=wftask_type_filters,
    )


def _task_output_check(data: Any) -> Any:
    output = task_interface.TaskOutput(**data)
    output.check_zarr_urls_are_unique()
    return output.model_dump(mode="json")


def _merge_outputs(outputs: list[dict]) -> dict:
    merged = merge_outputs([task_interface.TaskOutput(**out) for out in outputs])
    return merged.model_dump(mode="json")


def _deduplicate_images(images: list[dict]) -> list[dict]:
    models = [SingleImageTaskOutput(**img) for img in images]
    return [img.model_dump(mode="json") for img in deduplicate_list(models)]


def _deduplicate_init_args(items: list[dict]) -> list[dict]:
    models = [task_interface.InitArgsModel(**item) for item in items]
    return [item.model_dump(mode="json") for item in deduplicate_list(models)]


def _task_files(
    base: dict, tot_tasks: int | None = None, batch_size: int | None = None
) -> Any:
    files = task_files.TaskFiles(**base)
    if tot_tasks is None:
        return _file_names(files)
    return [
        _file_names(one)
        for one in task_files.enrich_task_files_multisubmit(
            tot_tasks=tot_tasks, batch_size=batch_size, base_task_files=files
        )
    ]


def _file_names(files: Any) -> dict[str, str]:
    return {
        "subfolder_name": files.subfolder_name,
        "args_file_local": str(files.args_file_local),
        "args_file_remote": str(files.args_file_remote),
        "metadiff_file_local": str(files.metadiff_file_local),
        "metadiff_file_remote": str(files.metadiff_file_remote),
        "log_file_local": str(files.log_file_local),
        "log_file_remote": str(files.log_file_remote),
    }


def _simplify_pyproject_toml(original: str, environment: str, platform: str) -> str:
    return simplify_pyproject_toml(
        original_toml_string=original,
        pixi_environment=environment,
        pixi_platform=platform,
    )


def _first_last(**kwargs: Any) -> list[int]:
    return list(set_start_and_last_task_index(**kwargs))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "filter_image_list": tools.filter_image_list,
    "match_filter": tools.match_filter,
    "merge_type_filters": _merge_type_filters,
    "find_image_by_zarr_url": tools.find_image_by_zarr_url,
    "aggregate_attributes": tools.aggregate_attributes,
    "aggregate_types": tools.aggregate_types,
    "normalize_url": normalize_url,
    "sanitize_string": sanitize_string,
    "validate_cmd": validate_cmd,
    "validate": _validate,
    "task_output_check": _task_output_check,
    "merge_outputs": _merge_outputs,
    "deduplicate_images": _deduplicate_images,
    "deduplicate_init_args": _deduplicate_init_args,
    "task_subfolder_name": task_files.task_subfolder_name,
    "task_files": _task_files,
    "set_start_and_last_task_index": _first_last,
    "interpret_as_bool": interpret_as_bool,
    "simplify_pyproject_toml": _simplify_pyproject_toml,
    "cast_task_output": lambda data: task_interface._cast_and_validate_TaskOutput(data),
    "cast_init_task_output": lambda data: (
        task_interface._cast_and_validate_InitTaskOutput(data)
    ),
    "normalize_package_name": normalize_package_name,
    "validate_wft_args": validate_wft_args,
    "valdict_keys": valdict_keys,
    "validate_attribute_filters": validate_attribute_filters,
    "val_unique_list": val_unique_list,
    "val_http_url": val_http_url,
}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """One request -> `{"ok": result}` or `{"error": {"type", "message"}}`."""
    try:
        result = FUNCTIONS[request["fn"]](**request["args"])
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        return {"ok": result}
    except Exception as exc:  # every failure is an answer, compared by the test
        error = {
            "type": type(exc).__name__,
            "mro": [cls.__name__ for cls in type(exc).__mro__],
            "message": str(exc),
        }
        if hasattr(exc, "errors"):  # pydantic ValidationError: where and which rule
            error["details"] = [[list(e["loc"]), e["type"]] for e in exc.errors()]
        return {"error": error}


def main() -> None:
    """One JSON list of requests per input line -> one JSON list per output line."""
    for line in sys.stdin:
        if line.strip():
            requests = json.loads(line)
            sys.stdout.write(json.dumps([answer(r) for r in requests]) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
