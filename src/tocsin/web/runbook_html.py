"""A runbook as an HTML page whose headings carry the runbook's section anchors, so a
``runbook_url`` of ``/runbooks/NAME#anchor`` lands on the right paragraph.

Shown as GitHub shows it: front matter and HTML comments are not content (the parser
blanks them the same way, so headings and sections still line up), ``<br>`` is a line
break (in a table cell, say); any other raw HTML is shown as text, never run."""

from __future__ import annotations

import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

from tocsin.runbooks.markdown import decode_source, hide
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.names import AnchorRegistry
from tocsin.web.render import render

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")
_BREAK = re.compile(r"&lt;br\s*/?&gt;", re.IGNORECASE)


def _text(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Text escaped, but for ``<br>``: a line break, as in GitHub's tables."""
    return _BREAK.sub("<br>", escapeHtml(tokens[idx].content))


_MD.add_render_rule("text", _text)


def body_html(text: str, book: Runbook) -> str:
    """Markdown to HTML, with each heading's id set to its section's anchor."""
    tokens = _MD.parse(hide(decode_source(text))[0])
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
