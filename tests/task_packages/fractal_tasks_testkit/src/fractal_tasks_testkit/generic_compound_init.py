"""compound / converter_compound init: one item per input (or a given list)."""

from __future__ import annotations

from typing import Any

from fractal_tasks_testkit._io import run_task


def generic_compound_init(
    *,
    zarr_dir: str,
    zarr_urls: list[str] | None = None,
    argument: int = 1,
    repeat: int = 1,
    init_output: Any = "default",
    fail: bool = False,
) -> Any:
    """Return `repeat` items per input url with `init_args {ind, argument}`.

    `init_output` (when given) is written verbatim instead, for invalid-output and
    empty-list cases.
    """
    if fail:
        raise RuntimeError("generic_compound_init failed on purpose")
    if init_output != "default":
        return init_output
    items = []
    for url in zarr_urls or []:
        for _ in range(repeat):
            items.append(
                {
                    "zarr_url": url,
                    "init_args": {"ind": len(items), "argument": argument},
                }
            )
    return {"parallelization_list": items}


if __name__ == "__main__":
    run_task(generic_compound_init)
