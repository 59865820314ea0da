"""Both sides of the fidelity comparison, answering the same JSON requests.

`ReferenceSide` sends whole batches of requests to `reference_driver.py`, run by
the python of a venv holding fractal-server 2.17.0 (one process per session);
`evaluate_ours` answers the same requests in-process with fractal_core. Answers
are `{"ok": result}` or `{"error": {"type", "mro", "message"}}`, where `mro`
lists the exception's class names (so a subclass of the reference's ValueError
still agrees with it).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import TypeAdapter
from pydantic import ValidationError

from fractal_core.collection.pixi_toml import simplify_pyproject_toml
from fractal_core.domain.job import JobCreate
from fractal_core.domain.task import Task
from fractal_core.engine.outputs import InitArgsModel
from fractal_core.engine.outputs import InitTaskOutput
from fractal_core.engine.outputs import TaskOutput
from fractal_core.engine.outputs import deduplicate_list
from fractal_core.engine.outputs import merge_outputs
from fractal_core.engine.outputs import validate_init_task_output
from fractal_core.engine.outputs import validate_task_output
from fractal_core.engine.runner import set_start_and_last_task_index
from fractal_core.engine.task_files import TaskFiles
from fractal_core.engine.task_files import multisubmit_task_files
from fractal_core.engine.task_files import task_subfolder_name
from fractal_core.images import SingleImage
from fractal_core.images import SingleImageTaskOutput
from fractal_core.images import SingleImageUpdate
from fractal_core.images import tools
from fractal_core.manifest.models import ManifestV2
from fractal_core.types import AbsolutePathStr
from fractal_core.types import AttributeFilters
from fractal_core.types import DictStrAny
from fractal_core.types import DictStrStr
from fractal_core.types import HttpUrlStr
from fractal_core.types import ListUniqueAbsolutePathStr
from fractal_core.types import ListUniqueNonEmptyString
from fractal_core.types import ListUniqueNonNegativeInt
from fractal_core.types import NonEmptyStr
from fractal_core.types import TypeFilters
from fractal_core.types import WorkflowTaskArgument
from fractal_core.types import ZarrUrlStr
from fractal_core.types import interpret_as_bool
from fractal_core.types import normalize_package_name
from fractal_core.types import normalize_url
from fractal_core.types import sanitize_string
from fractal_core.types import val_http_url
from fractal_core.types import val_unique_list
from fractal_core.types import valdict_keys
from fractal_core.types import validate_attribute_filters
from fractal_core.types import validate_cmd
from fractal_core.types import validate_wft_args

DRIVER = Path(__file__).with_name("reference_driver.py")
DRIVER_TIMEOUT = 600  # seconds for one batch

Request = dict[str, Any]
Answer = dict[str, Any]

MODELS: dict[str, Any] = {
    "SingleImage": SingleImage,
    "SingleImageTaskOutput": SingleImageTaskOutput,
    "TaskOutput": TaskOutput,
    "InitTaskOutput": InitTaskOutput,
    "ManifestV2": ManifestV2,
    "TaskCreate": Task,
    "JobCreate": JobCreate,
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
        task_input_types=task_input_types, wftask_type_filters=wftask_type_filters
    )


def _task_output_check(data: Any) -> Any:
    output = TaskOutput.model_validate(data)
    output.check_zarr_urls_are_unique()
    return output.model_dump(mode="json")


def _merge_outputs(outputs: list[dict]) -> dict:
    merged = merge_outputs([TaskOutput.model_validate(out) for out in outputs])
    return merged.model_dump()


def _deduplicate_images(images: list[dict]) -> list[dict]:
    models = [SingleImageTaskOutput.model_validate(img) for img in images]
    return [img.model_dump(mode="json") for img in deduplicate_list(models)]


def _deduplicate_init_args(items: list[dict]) -> list[dict]:
    models = [InitArgsModel.model_validate(item) for item in items]
    return [item.model_dump(mode="json") for item in deduplicate_list(models)]


def _file_names(files: TaskFiles) -> dict[str, str]:
    return {
        "subfolder_name": files.subfolder_name,
        "args_file_local": str(files.args_file_local),
        "args_file_remote": str(files.args_file_remote),
        "metadiff_file_local": str(files.metadiff_file_local),
        "metadiff_file_remote": str(files.metadiff_file_remote),
        "log_file_local": str(files.log_file_local),
        "log_file_remote": str(files.log_file_remote),
    }


def _task_files(
    base: dict, tot_tasks: int | None = None, batch_size: int | None = None
) -> Any:
    files = TaskFiles(
        root_dir_local=Path(base["root_dir_local"]),
        root_dir_remote=Path(base["root_dir_remote"]),
        task_name=base["task_name"],
        task_order=base["task_order"],
        component=base["component"],
        prefix=base["prefix"],
    )
    if tot_tasks is None:
        return _file_names(files)
    return [
        _file_names(one)
        for one in multisubmit_task_files(
            files, tot_tasks=tot_tasks, batch_size=batch_size
        )
    ]


def _first_last(**kwargs: Any) -> list[int]:
    return list(set_start_and_last_task_index(**kwargs))


OURS: dict[str, Callable[..., Any]] = {
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
    "task_subfolder_name": task_subfolder_name,
    "task_files": _task_files,
    "set_start_and_last_task_index": _first_last,
    "interpret_as_bool": interpret_as_bool,
    "simplify_pyproject_toml": simplify_pyproject_toml,
    "cast_task_output": lambda data: validate_task_output(data),
    "cast_init_task_output": lambda data: validate_init_task_output(data),
    "normalize_package_name": normalize_package_name,
    "validate_wft_args": validate_wft_args,
    "valdict_keys": valdict_keys,
    "validate_attribute_filters": validate_attribute_filters,
    "val_unique_list": val_unique_list,
    "val_http_url": val_http_url,
}


def _error(exc: BaseException) -> Answer:
    error: dict[str, Any] = {
        "type": type(exc).__name__,
        "mro": [cls.__name__ for cls in type(exc).__mro__],
        "message": str(exc),
    }
    if isinstance(exc, ValidationError):  # where and which rule, as the driver does
        error["details"] = [[list(e["loc"]), e["type"]] for e in exc.errors()]
    return {"error": error}


def answer_ours(request: Request) -> Answer:
    """fractal_core's answer, JSON round-tripped like the reference's."""
    try:
        result = OURS[request["fn"]](**json.loads(json.dumps(request["args"])))
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        return {"ok": json.loads(json.dumps(result))}
    except Exception as exc:  # every failure is an answer, compared by the test
        return _error(exc)


def evaluate_ours(requests: list[Request]) -> list[Answer]:
    return [answer_ours(request) for request in requests]


class ReferenceSide:
    """fractal-server 2.17.0 behind a venv python: one driver process per session.

    Each batch is one line to the driver's stdin and one line back, so the
    reference is imported once (about a second) however many batches run.
    """

    def __init__(self, python: Path, workdir: Path) -> None:
        env = dict(os.environ)
        for var in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"):
            env.setdefault(var, "fidelity")
        env.setdefault("JWT_SECRET_KEY", "fidelity-not-a-secret")
        self._stderr_path = workdir / "reference_driver.stderr"
        self._stderr = self._stderr_path.open("w")
        self._proc = subprocess.Popen(
            [str(python), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
            cwd=workdir,
        )

    def evaluate(self, requests: list[Request]) -> list[Answer]:
        """Answers of fractal-server 2.17.0 to `requests`, in order."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps(requests) + "\n")
            self._proc.stdin.flush()
            ready, _, _ = select.select([self._proc.stdout], [], [], DRIVER_TIMEOUT)
            if not ready:
                raise RuntimeError(f"reference driver silent for {DRIVER_TIMEOUT} s")
            line = self._proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self._stderr.flush()
            raise RuntimeError(
                "reference driver stopped:\n" + self._stderr_path.read_text()[-5000:]
            )
        answers = json.loads(line)
        if len(answers) != len(requests):
            raise RuntimeError(f"{len(requests)} requests, {len(answers)} answers")
        return answers

    def close(self) -> None:
        """Stop the driver (end of its input) and wait for it."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=DRIVER_TIMEOUT)
        finally:
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._stderr.close()
