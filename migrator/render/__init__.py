"""Rendering a plan: the terminal overview (rich), a printable markdown runbook, JSON, mermaid.

One module per format; the CLI and the TUI call only the functions re-exported here. Each
is imported on first use (module ``__getattr__``): `migrator plan` must start in 0.3 s, so it
pays only for the format it prints. The terminal needs rich's console, table and text only
(never rich.syntax: pygments is slow to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migrator.render.json_doc import render_json
    from migrator.render.markdown import render_markdown
    from migrator.render.mermaid import render_mermaid
    from migrator.render.terminal import render_terminal

_HOMES = {
    "render_json": "migrator.render.json_doc",
    "render_markdown": "migrator.render.markdown",
    "render_mermaid": "migrator.render.mermaid",
    "render_terminal": "migrator.render.terminal",
}

__all__ = ["render_json", "render_markdown", "render_mermaid", "render_terminal"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'migrator.render' has no attribute '{name}'")
    return getattr(importlib.import_module(home), name)
