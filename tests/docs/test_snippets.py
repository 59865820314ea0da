"""Every ```python block of docs/*.md and README.md runs without error.

Blocks of one page run in order in one namespace, in a temporary working
folder, with the names of `context.py` predefined (the guides say so);
`/data/` paths are mapped into the temporary folder (see `snippets.py`).
Blocks marked `# docs: skip <reason>` are not run, and the reason must be there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import fractal_core as fc
from tests.docs.context import page_namespace
from tests.docs.snippets import snippets
from tests.engine.testkit import InstalledTestkit
from tests.engine.testkit import install_testkit

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
MAX_SKIPPED = 8  # skipping stays the exception


@pytest.fixture(scope="module")
def testkit(tmp_path_factory: pytest.TempPathFactory) -> InstalledTestkit:
    return install_testkit(tmp_path_factory.mktemp("docs-testkit"))


@pytest.fixture
def executor() -> Iterator[fc.LocalExecutor]:
    with fc.LocalExecutor(max_workers=2) as ex:
        yield ex


def test_pages_have_snippets_and_skips_say_why() -> None:
    all_snippets = [s for page in PAGES for s in snippets(page)]
    assert len(all_snippets) >= 20
    skipped = [s for s in all_snippets if s.skip_reason is not None]
    for snippet in skipped:
        assert len(snippet.skip_reason or "") > 10, (snippet.page, snippet.line)
    assert len(skipped) <= MAX_SKIPPED, [(s.page.name, s.line) for s in skipped]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_snippets_run(
    page: Path,
    testkit: InstalledTestkit,
    executor: fc.LocalExecutor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runnable = [s for s in snippets(page) if s.skip_reason is None]
    if not runnable:
        pytest.skip(f"{page.name}: no runnable python block")
    monkeypatch.chdir(tmp_path)
    namespace = page_namespace(testkit, tmp_path, executor)
    for snippet in runnable:
        where = f"{page.name}:{snippet.line}"
        code = compile(snippet.runnable(tmp_path), where, "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the documentation's own examples
        except Exception as error:
            pytest.fail(f"{page.name}, block at line {snippet.line}: {error!r}")
