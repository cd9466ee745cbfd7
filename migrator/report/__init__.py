"""Run reports: the change record of a run, and two runs compared (markdown, HTML, JSON).

* :mod:`migrator.report.facts` reads everything recorded about a run (redacted) into facts;
* :mod:`migrator.report.change_record` and :mod:`migrator.report.compare` turn facts into a
  :class:`~migrator.report.document.Document`, written as Markdown or HTML;
* :mod:`migrator.report.json_doc` writes the facts as JSON.

:func:`render_run` and :func:`render_comparison` are what the CLI (and the TUI) call.
"""

from __future__ import annotations

from migrator.report.facts import RunFacts

FORMATS = ("markdown", "json", "html")


def render_run(facts: RunFacts, fmt: str = "markdown") -> str:
    from migrator.report.change_record import build
    from migrator.report.document import to_html, to_markdown
    from migrator.report.json_doc import render_run_json

    if fmt == "json":
        return render_run_json(facts)
    doc = build(facts)
    return to_html(doc) if fmt == "html" else to_markdown(doc)


def render_comparison(a: RunFacts, b: RunFacts, fmt: str = "markdown") -> str:
    from migrator.report.compare import build_comparison
    from migrator.report.document import to_html, to_markdown
    from migrator.report.json_doc import render_compare_json

    if fmt == "json":
        return render_compare_json(a, b)
    doc = build_comparison(a, b)
    return to_html(doc) if fmt == "html" else to_markdown(doc)


__all__ = ["FORMATS", "RunFacts", "render_comparison", "render_run"]
