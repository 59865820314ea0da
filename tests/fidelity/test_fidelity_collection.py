"""Pure helpers of task collection, side by side with fractal-server 2.17.0."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from .harness import collect
from .harness import compare
from .harness import is_error
from .harness import requests_for
from .sides import Answer
from .sides import ReferenceSide
from .sides import Request

pytestmark = pytest.mark.slow

_PLATFORMS = st.lists(
    st.sampled_from(["linux-64", "osx-arm64", "win-64"]), max_size=2, unique=True
)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


@st.composite
def pyproject_texts(draw: st.DrawFn) -> str:
    """pyproject.toml texts with or without the `[tool.pixi]` tables upstream edits."""
    parts = []
    if draw(st.booleans()):
        parts.append('[project]\nname = "pkg"\nversion = "0.1.0"\n')
    for table in ("workspace", "project"):
        if draw(st.booleans()):
            platforms = draw(_PLATFORMS)
            body = f"platforms = {_toml_list(platforms)}\n" if platforms else ""
            parts.append(f'[tool.pixi.{table}]\nchannels = ["conda-forge"]\n{body}')
    if draw(st.booleans()):
        names = draw(
            st.lists(
                st.sampled_from(["default", "gpu", "cpu"]), max_size=3, unique=True
            )
        )
        body = "".join(f'{name} = ["{name}-feature"]\n' for name in names)
        parts.append(f"[tool.pixi.environments]\n{body}")
    if draw(st.booleans()):
        parts.append('[tool.pixi.tasks]\nhello = "echo hello"\n')
    if draw(st.booleans()):
        parts.append('[tool.pixi.dependencies]\npython = "3.11.*"\n')
    if draw(st.booleans()):
        parts.append("[tool.other]\nx = 1\n")
    return "\n".join(draw(st.permutations(parts)))


def test_simplify_pyproject_toml(reference: ReferenceSide) -> None:
    args = collect(
        st.fixed_dictionaries(
            {
                "original": pyproject_texts(),
                "environment": st.sampled_from(["default", "gpu"]),
                "platform": st.sampled_from(["linux-64", "osx-arm64"]),
            }
        ),
        count=150,
    )

    def check(request: Request, ref: Answer, ours: Answer) -> str | None:
        if is_error(ref) or is_error(ours):
            same = is_error(ref) and is_error(ours)
            return None if same else f"reference {ref} / ours {ours}"
        return None if ref["ok"] == ours["ok"] else f"reference {ref} / ours {ours}"

    compare(reference, requests_for("simplify_pyproject_toml", args), check)
