"""A step's units as a lazy batch, and its outcomes kept small.

A parallel step over 100,000 images used to hold a `WorkUnit`, a result and an
outcome object per unit until the step ended (several kilobytes each). Here a
unit is built from its index when an executor asks for it (`TaskUnits`), and
`TaskOutcomes` keeps only what can change the image list or must be reported:
outputs that update or remove images, and failures. A unit that succeeded
without output costs a bit in a bytearray.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import overload

from ..executors.base import ResourceRequest
from ..executors.base import UnitBatch
from ..executors.base import WorkUnit
from .outputs import MergedOutput
from .task_files import TaskFiles


class TaskUnits(UnitBatch):
    """The units of one step, unit `i` built from its files when asked for."""

    def __init__(
        self,
        command: str,
        files: Sequence[TaskFiles],
        resources: ResourceRequest,
        env: Mapping[str, str],
    ) -> None:
        self._command = command
        self._files = files
        self._resources = resources
        self._env = env

    @property
    def resources(self) -> ResourceRequest:
        return self._resources

    def __len__(self) -> int:
        return len(self._files)

    def unit_id(self, index: int) -> str:
        return str(index)

    @overload
    def __getitem__(self, i: int) -> WorkUnit: ...
    @overload
    def __getitem__(self, i: slice) -> list[WorkUnit]: ...
    def __getitem__(self, i: int | slice) -> WorkUnit | list[WorkUnit]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        files = self._files[i]
        return WorkUnit(
            id=str(i),
            command=self._command,
            args_file=files.args_file_local,
            output_file=files.metadiff_file_local,
            log_file=files.log_file_local,
            args_file_remote=files.args_file_remote.as_posix(),
            output_file_remote=files.metadiff_file_remote.as_posix(),
            log_file_remote=files.log_file_remote.as_posix(),
            resources=self._resources,
            env=self._env,
        )


def write_args_files(
    list_args: Iterable[dict[str, object]], list_files: Sequence[TaskFiles]
) -> None:
    """Write each unit's arguments file, dropping a stale output beside it.

    `list_args` may be a generator: each unit's arguments are built, written
    and dropped in turn, never all held at once.
    """
    subfolder = list_files[0].wftask_subfolder_local
    fresh = not subfolder.exists()
    subfolder.mkdir(parents=True, exist_ok=True)
    for args, files in zip(list_args, list_files, strict=True):
        with open(files.args_file_local, "w") as f:
            f.write(json.dumps(args))  # the C encoder (json.dump is pure Python)
        if not fresh:
            # A stale output from an earlier run in the same folder must not
            # be mistaken for this run's output.
            files.metadiff_file_local.unlink(missing_ok=True)


@dataclass
class UnitOutcome:
    """What one unit produced: a validated output, or the exception that failed it."""

    task_output: MergedOutput | None = None
    exception: BaseException | None = None
    invalid_output: bool = False
    zarr_urls: list[str] = field(default_factory=list)  # the unit's input images


def _no_urls(index: int) -> Sequence[str]:
    return ()


class TaskOutcomes:
    """The outcomes of one step's units, by unit index, kept compact.

    `urls_of(i)` gives unit `i`'s input images (for the images a task that
    changes nothing touches). Outputs that change nothing are not kept: merging
    them is a no-op, and which units succeeded is one byte per unit.
    """

    def __init__(
        self, num_units: int, urls_of: Callable[[int], Sequence[str]] = _no_urls
    ) -> None:
        self.num_units = num_units
        self._urls_of = urls_of
        self._ok = bytearray(num_units)
        self._outputs: list[tuple[int, MergedOutput]] = []
        self._failed: dict[int, UnitOutcome] = {}

    @classmethod
    def single(cls, outcome: UnitOutcome) -> TaskOutcomes:
        """The outcomes of a one-unit step (or a step that failed before its units)."""
        urls = list(outcome.zarr_urls)
        outcomes = cls(1, lambda _index: urls)
        outcomes.add(0, outcome)
        return outcomes

    def add(self, index: int, outcome: UnitOutcome) -> None:
        """Record unit `index`'s outcome (once per unit)."""
        if outcome.exception is not None:
            self._failed[index] = outcome
            return
        self._ok[index] = 1
        output = outcome.task_output
        if output is not None and not output.is_empty:
            self._outputs.append((index, output))

    def ok(self, index: int) -> bool:
        return bool(self._ok[index])

    @property
    def any_ok(self) -> bool:
        """True if at least one unit succeeded (its output, maybe empty, counts)."""
        return any(self._ok)

    @property
    def all_ok(self) -> bool:
        return not self._failed and all(self._ok)

    def outputs(self) -> list[MergedOutput]:
        """The outputs that change something, in unit order."""
        return [output for _, output in sorted(self._outputs, key=_first)]

    def failures(self) -> list[UnitOutcome]:
        """The failed units' outcomes, in unit order."""
        return [self._failed[i] for i in sorted(self._failed)]

    def ok_urls(self) -> set[str]:
        """Every input image of a successful unit."""
        ok = self._ok
        return {url for i in range(self.num_units) if ok[i] for url in self._urls_of(i)}


def _first(pair: tuple[int, MergedOutput]) -> int:
    return pair[0]
