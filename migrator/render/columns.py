"""Plain text columns for a pipe or a file: every cell whole on one line, never wrapped.

A box table is for a person at a terminal; piped, rich wraps cells at the console width
(80 columns when it cannot ask), which cuts run and step ids mid-word. Plain columns are
padded to the widest cell; the last column is not padded.
"""

from __future__ import annotations

from collections.abc import Sequence


def one_line(text: str) -> str:
    """A cell on one line: newlines and tabs become spaces."""
    return " ".join(text.split()) if any(c in text for c in "\n\r\t") else text


def plain_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``headers`` then ``rows``, columns separated by two spaces; ends with a newline."""
    table = [list(headers), *([one_line(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
