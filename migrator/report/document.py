"""A tiny document model (sections, paragraphs, tables, lists, code) with two writers.

The change record is built once as a :class:`Document`; :func:`to_markdown` and
:func:`to_html` write it. So the Markdown file and the HTML page always say the same thing,
and escaping is done in one place per format: Markdown through the runbook's helpers
(:mod:`migrator.render.markdown`), HTML through :func:`html.escape` on every piece of text.
No template engine: a report is a handful of tables.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from migrator.render.markdown import code, code_block, plain


@dataclass(frozen=True)
class Code:
    """Inline code: a step id, a command, a fingerprint."""

    text: str


Inline = str | Code
Line = tuple[Inline, ...]


def line(*parts: Inline) -> Line:
    return tuple(parts)


@dataclass(frozen=True)
class Para:
    text: Line


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Line, ...], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[Line, ...]


@dataclass(frozen=True)
class CodeBlock:
    text: str
    language: str = "text"


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: Line


Block = Para | Table | Bullets | CodeBlock | Heading


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, block: Block) -> Section:
        self.blocks.append(block)
        return self


@dataclass
class Document:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        found = Section(title)
        self.sections.append(found)
        return found


# -- markdown --------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    """plain() for a piece of a line, keeping the single space that joins it to its neighbours."""
    flat = re.sub(r"\s+", " ", text)
    if not flat.strip():
        return flat
    lead = " " if flat.startswith(" ") else ""
    trail = " " if flat.endswith(" ") else ""
    return lead + plain(flat) + trail


def _md_inline(text: Line, *, cell: bool = False) -> str:
    parts = []
    for p in text:
        if isinstance(p, Code):
            flat = " ".join(p.text.split())
            # In a table a '|' ends the cell even inside a code span.
            parts.append(code(flat.replace("|", "\\|") if cell else flat))
        else:
            parts.append(_md_text(p))
    return "".join(parts)


def _md_cell(text: Line) -> str:
    return _md_inline(text, cell=True) or " "


def to_markdown(doc: Document) -> str:
    out = [f"# {plain(doc.title)}", ""]
    if doc.subtitle:
        out += [plain(doc.subtitle), ""]
    for section in doc.sections:
        out += [f"## {plain(section.title)}", ""]
        for block in section.blocks:
            out += _md_block(block)
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [_md_inline(block.text)]
    if isinstance(block, Heading):
        return [f"### {_md_inline(block.text)}"]
    if isinstance(block, Bullets):
        return [f"- {_md_inline(item)}" for item in block.items]
    if isinstance(block, CodeBlock):
        return code_block(block.text, block.language)
    rows = [
        "| " + " | ".join(plain(h) for h in block.headers) + " |",
        "|" + "|".join("---" for _ in block.headers) + "|",
    ]
    rows += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
    return rows


# -- html ------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; font-size: 0.85rem; }
code { background: #f1f1f1; padding: 0 0.2rem; }
h2 { border-bottom: 1px solid #ddd; margin-top: 2rem; }
""".strip()


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_inline(text: Line) -> str:
    return "".join(f"<code>{_h(p.text)}</code>" if isinstance(p, Code) else _h(p) for p in text)


def to_html(doc: Document) -> str:
    """A self-contained page: inline CSS, no script, every text escaped."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_h(doc.title)}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{_h(doc.title)}</h1>",
    ]
    if doc.subtitle:
        out.append(f"<p>{_h(doc.subtitle)}</p>")
    for section in doc.sections:
        out.append("<section>")
        out.append(f"<h2>{_h(section.title)}</h2>")
        out += [_html_block(b) for b in section.blocks]
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{_html_inline(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{_html_inline(block.text)}</h3>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{_html_inline(i)}</li>" for i in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, CodeBlock):
        return f"<pre><code>{_h(block.text)}</code></pre>"
    head = "".join(f"<th>{_h(h)}</th>" for h in block.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
