"""A runbook as an HTML page whose headings carry the runbook's section anchors, so a
``runbook_url`` of ``/runbooks/NAME#anchor`` lands on the right paragraph."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

from tocsin.runbooks.model import Runbook
from tocsin.runbooks.names import AnchorRegistry
from tocsin.web.render import render

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def body_html(text: str, book: Runbook) -> str:
    """Markdown to HTML, with each heading's id set to its section's anchor."""
    tokens = _MD.parse(text)
    anchors = [s.anchor for s in book.sections]
    fallback = AnchorRegistry()
    n = 0
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        title = tokens[i + 1].content if i + 1 < len(tokens) else ""
        anchor = anchors[n] if n < len(anchors) else fallback.claim(title)
        token.attrSet("id", anchor)
        n += 1
    html: str = _MD.renderer.render(tokens, _MD.options, {})
    return html


def page(text: str, book: Runbook, json_url: str) -> str:
    return render("runbook.html", book=book, body=Markup(body_html(text, book)), json_url=json_url)
