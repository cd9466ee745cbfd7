"""Rendering a plan: the terminal overview (rich), a printable markdown runbook, JSON, mermaid.

One module per format; the CLI and the TUI call only the functions re-exported here. The
terminal needs rich's console, table and text only (never rich.syntax: pygments is slow to
import and `migrator plan` must start fast).
"""

from __future__ import annotations

from migrator.render.json_doc import render_json
from migrator.render.markdown import render_markdown
from migrator.render.mermaid import render_mermaid
from migrator.render.terminal import render_terminal

__all__ = ["render_json", "render_markdown", "render_mermaid", "render_terminal"]
