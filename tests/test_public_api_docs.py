"""Every fractal_core name the README, docs, notebooks and examples use resolves there.

The files are read as text: `from X import a, b`, `import X as m` then `m.a`,
and backticked dotted names such as `fractal_core.engine.EngineSettings`. A
name that only resolves through the moved-name shim counts as broken.
"""

from __future__ import annotations

import importlib
import json
import re
import warnings
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(fractal_core(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(\([^)]*\)|[^\n#]+)",
    re.MULTILINE,
)
IMPORT_AS = re.compile(
    r"^[ \t]*import[ \t]+(fractal_core(?:\.\w+)*)(?:[ \t]+as[ \t]+(\w+))?",
    re.MULTILINE,
)
DOTTED = re.compile(r"`(fractal_core(?:\.\w+)+)")


def _documents() -> list[Path]:
    """The files a reader follows: README, docs, notebooks, examples."""
    found = [ROOT / "README.md"]
    for folder, patterns in (
        ("docs", ("*.md", "*.py")),
        ("notebooks", ("*.ipynb", "*.py")),
        ("examples", ("*.py",)),
    ):
        for pattern in patterns:
            found.extend(sorted((ROOT / folder).rglob(pattern)))
    return [path for path in found if path.is_file()]


def _text(path: Path) -> str:
    """A file's text; for a notebook, its code and markdown cells."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return raw
    cells = json.loads(raw).get("cells", [])
    return "\n".join("".join(cell.get("source", [])) for cell in cells)


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


def _resolve(dotted: str) -> bool:
    """Whether `a.b.c` names a module or an attribute chain below one, unwarned."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = _module(".".join(parts[:cut]))
        if module is None:
            continue
        value: object = module
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            for part in parts[cut:]:
                try:
                    value = getattr(value, part)
                except (AttributeError, DeprecationWarning):
                    return False
        return True
    return False


def _imported_names(clause: str) -> list[str]:
    names = clause.strip().strip("()").replace("\n", " ")
    return [
        item.split(" as ")[0].strip()
        for item in names.split(",")
        if item.strip() and item.strip() != "*"
    ]


def _references(text: str) -> set[str]:
    """Dotted names the text imports or uses from fractal_core modules."""
    refs: set[str] = set()
    for module, clause in FROM_IMPORT.findall(text):
        refs.add(module)
        refs.update(f"{module}.{name}" for name in _imported_names(clause))
    for module, alias in IMPORT_AS.findall(text):
        refs.add(module)
        if alias:
            uses = re.findall(rf"(?<![\w.]){alias}\.(\w+)", text)
            refs.update(f"{module}.{name}" for name in uses)
    refs.update(DOTTED.findall(text))
    return refs


DOCUMENTS = _documents()


@pytest.mark.parametrize(
    "path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS]
)
def test_every_fractal_core_name_in_the_file_resolves_without_warning(
    path: Path,
) -> None:
    refs = _references(_text(path))
    broken = sorted(ref for ref in refs if not _resolve(ref))
    assert not broken, f"{path.relative_to(ROOT)} names what does not exist: {broken}"


def test_the_readme_taste_is_scanned() -> None:
    refs = _references(_text(ROOT / "README.md"))
    assert {"fractal_core.run_job", "fractal_core.CollectionSettings"} <= refs


def test_a_moved_or_missing_name_is_reported() -> None:
    text = (
        "import fractal_core as fc\nfc.HistoryRun\n"
        "from fractal_core.engine import NoSuchThing\n"
    )
    refs = _references(text)
    assert {"fractal_core.HistoryRun", "fractal_core.engine.NoSuchThing"} <= refs
    assert not _resolve("fractal_core.HistoryRun")
    assert not _resolve("fractal_core.engine.NoSuchThing")
    assert _resolve("fractal_core.domain.HistoryRun")
