"""A rendered HTML message's links are checked as Go's html/template checks an href:
a scheme other than http, https or mailto becomes ``#ZgotmplZ``; the rest of the HTML
is left as it was."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.notify.html_links import FILTERED, is_safe_url, safe_links

ROWS = [
    # (rendered HTML, what is sent)
    ('<a href="javascript:alert(1)">x</a>', f'<a href="{FILTERED}">x</a>'),
    ("<a href='JavaScript:alert(1)'>x</a>", f"<a href='{FILTERED}'>x</a>"),
    ("<a href=javascript:alert(1)>x</a>", f"<a href={FILTERED}>x</a>"),
    ('<a href="java\tscript:x">x</a>', f'<a href="{FILTERED}">x</a>'),  # tabs dropped
    ('<a href="&#106;avascript:x">x</a>', f'<a href="{FILTERED}">x</a>'),  # entities
    ('<a href=" data:text/html,x">x</a>', f'<a href="{FILTERED}">x</a>'),
    ('<img src="vbscript:x">', f'<img src="{FILTERED}">'),
    ('<form action="javascript:x"></form>', f'<form action="{FILTERED}"></form>'),
    # read as a browser reads the tag: a value holding ' href=' is a value
    (
        '<a title=" href=" href="javascript:alert(1)">x</a>',
        f'<a title=" href=" href="{FILTERED}">x</a>',
    ),
    ("<a/href=javascript:x>x</a>", f"<a/href={FILTERED}>x</a>"),
    ('<a x="1"href="javascript:x">x</a>', f'<a x="1"href="{FILTERED}">x</a>'),
    ('<A HREF="javascript:x">x</A>', f'<A HREF="{FILTERED}">x</A>'),
    # kept as written
    ('<a href="https://g.example/graph?q=a&amp;b">g</a>', None),
    ('<a href="http://x/?q=&lt;b&gt;">q</a>', None),
    ('<a href="mailto:ops@example.org">mail</a>', None),
    ('<a href="/ui/groups/abc">relative</a>', None),
    ('<a href="#top">fragment</a>', None),
    ('<a href="x/y:z">a colon after a slash is a path</a>', None),
    ('<p title="javascript:x">not a URL attribute</p>', None),
    ("<p>href=javascript:x in text</p>", None),
]


@pytest.mark.parametrize(("rendered", "sent"), ROWS)
def test_links(rendered: str, sent: str | None) -> None:
    assert safe_links(rendered) == (rendered if sent is None else sent)


SCHEMES = st.sampled_from(["javascript", "JAVASCRIPT", "data", "vbscript", "file", "http"])


@given(scheme=SCHEMES, rest=st.text(alphabet=st.characters(blacklist_characters='"<>')))
def test_no_unsafe_link_survives(scheme: str, rest: str) -> None:
    out = safe_links(f'<a href="{scheme}:{rest}">x</a>')
    href = out.split('href="', 1)[1].split('"', 1)[0]
    assert href == FILTERED or is_safe_url(href)
    assert (href == FILTERED) == (scheme.lower() != "http")
    assert safe_links(out) == out  # checked once is checked
