"""Reading the screen as the operator sees it: the rendered cells, cropped to a widget."""

from __future__ import annotations

from typing import Any

from textual.widget import Widget


def screen_lines(app: Any) -> list[str]:
    """Every row of the terminal as plain text (what a screenshot shows, without colours)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def widget_lines(app: Any, widget: Widget) -> list[str]:
    """The rows inside ``widget`` (border and padding cropped): what it shows, not what it holds."""
    region = widget.content_region
    return [line[region.x : region.right] for line in screen_lines(app)[region.y : region.bottom]]


def squeezed(text: str) -> str:
    """``text`` without any whitespace: wrapping (even inside a word) cannot hide a match."""
    return "".join(text.split())


def shows(app: Any, widget: Widget, text: str) -> bool:
    """Does ``widget`` show all of ``text``, wrapped or not?"""
    return squeezed(text) in squeezed("".join(widget_lines(app, widget)))
