"""Find the ```python blocks of the documentation and run them.

A block whose first line starts with `# docs: skip` is not run; the rest of
that line must say why (a cluster, a server, a download, a package of your
own). The blocks of one page run in order in one namespace, so a page can
build on its earlier blocks. Paths under `/data/` in the examples stand for
the reader's own folders: they are mapped into the test's temporary folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SKIP_MARK = "# docs: skip"
EXAMPLE_ROOT = "/data/"
_DATA_PATH = re.compile(r"/data/[^\"' ]*")
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Snippet:
    """One fenced python block: its page, first line number and source."""

    page: Path
    line: int
    source: str

    @property
    def skip_reason(self) -> str | None:
        """The text after `# docs: skip` on the first line, or None to run it."""
        first = self.source.lstrip("\n").split("\n", 1)[0].strip()
        if not first.startswith(SKIP_MARK):
            return None
        return first[len(SKIP_MARK) :].strip(" :-()")

    def runnable(self, root: Path) -> str:
        """The source with `/data/` paths moved below `root`, their folders made.

        A path's last component may be a file to create (a database, a job
        folder), so only its parent folder is made, as a reader's would exist.
        """
        for path in _DATA_PATH.findall(self.source):
            (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        return self.source.replace(EXAMPLE_ROOT, f"{root}/data/")


def snippets(page: Path) -> list[Snippet]:
    """The ```python blocks of `page`, in order."""
    text = page.read_text()
    return [
        Snippet(page, text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in _FENCE.finditer(text)
    ]
