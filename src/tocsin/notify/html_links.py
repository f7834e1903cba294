"""Links in a rendered HTML message that may only lead where a link should.

Alertmanager renders e-mail with Go's ``html/template``, whose escaping knows contexts:
a value in an ``href`` whose scheme is not http, https or mailto becomes ``#ZgotmplZ``.
Tocsin's Jinja2 templates escape HTML, not URLs, so an annotation
``link="javascript:..."`` (label and annotation values come from scraped targets)
reached the on-call's mail as a live ``javascript:`` link. This pass does what Go's
does to the finished HTML: every URL attribute whose scheme is not a safe one is
replaced by Go's marker. (A template author's own ``javascript:`` link goes too: no
mail client should run one.)
"""

from __future__ import annotations

import html
import re

# Go's html/template: "#ZgotmplZ" marks an unsafe value it filtered out
FILTERED = "#ZgotmplZ"
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# the attributes whose value is a URL (HTML 4 and 5, SVG's xlink:href)
_URL_ATTRIBUTES = frozenset(
    [
        "href",
        "src",
        "action",
        "formaction",
        "background",
        "cite",
        "longdesc",
        "poster",
        "srcset",
        "xlink:href",
        "codebase",
        "data",
        "manifest",
        "profile",
        "usemap",
        "icon",
        "dynsrc",
        "lowsrc",
    ]
)
# A start tag, read as a browser reads it: its attributes' quoted values are taken
# whole, so a value holding ' href=' (an annotation's text in a title) cannot make
# the next attribute look like a value, nor a value like an attribute.
_TAG = re.compile(r"""<[a-zA-Z][^\s/>]*(?P<attrs>(?:"[^"]*"|'[^']*'|[^'">])*)>""")
# One attribute of a tag's text; what lies between them (spaces, "/") is skipped
_ATTRIBUTE = re.compile(
    r"""(?P<name>[^\s"'>/=]+)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'>]+)))?"""
)
# a scheme: letters first, then letters, digits, + - . before the first ":" (HTML
# parsers drop tabs and newlines inside a URL: "java\tscript:" is javascript:)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_IGNORED = re.compile(r"[\x00-\x20]")


def safe_links(text: str) -> str:
    """``text`` (rendered HTML) with every URL attribute of an unsafe scheme replaced
    by ``#ZgotmplZ``; relative URLs and http, https and mailto are kept as written."""
    return _TAG.sub(_checked_tag, text)


def _checked_tag(tag: re.Match[str]) -> str:
    attrs = tag.group("attrs")
    checked = _ATTRIBUTE.sub(_checked, attrs)
    if checked == attrs:
        return tag.group(0)
    start, end = tag.span("attrs")
    whole = tag.group(0)
    base = tag.start()
    return whole[: start - base] + checked + whole[end - base :]


def _checked(found: re.Match[str]) -> str:
    if found.group("name").lower() not in _URL_ATTRIBUTES:
        return found.group(0)
    for group in ("dq", "sq", "bare"):
        value = found.group(group)
        if value is not None:
            break
    else:
        return found.group(0)  # an attribute without a value
    if is_safe_url(html.unescape(value)):
        return found.group(0)
    start, end = found.span(group)
    kept, base = found.group(0), found.start()
    return kept[: start - base] + FILTERED + kept[end - base :]


def is_safe_url(url: str) -> bool:
    """Whether a URL (its entities decoded) is relative or of a safe scheme."""
    scheme = _SCHEME.match(_IGNORED.sub("", url))
    return scheme is None or scheme.group(1).lower() in SAFE_SCHEMES
