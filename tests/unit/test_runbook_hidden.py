"""Front matter and HTML comments are not content (as on GitHub and MkDocs): not
rendered, not parsed into sections, steps or timers, not searched; every other line
keeps its number. ``<br>`` in a table cell is a line break; other raw HTML stays text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.runbooks.markdown import hide, source_lines
from tocsin.runbooks.parser import parse_runbook
from tocsin.web.runbook_html import body_html

DANGER = "rm -rf /var/lib/postgresql"

COMMENTED = f"""\
---
title: x
owner: y
---
# DB

## PostgresDown
**Severity**: critical

<!-- TODO
1. Check
2. Run {DANGER} -- DO NOT
-->

1. Look at the pod <!-- then update the status page within 5 minutes -->
2. Restart it

- a note
  <!-- 3. Run {DANGER} -->

> quoted <!-- {DANGER}
> still hidden --> shown

Keep `<!-- in code -->` and

```html
<!-- in a fence -->
```

| Who | How |
|-----|-----|
| DBA<br>backup | x <script>alert(1)</script> <!-- {DANGER} --> |
"""


def test_comments_and_front_matter_are_not_parsed() -> None:
    book = parse_runbook(COMMENTED, name="db")
    assert [s.anchor for s in book.sections] == ["db", "postgresdown"]
    assert book.title == "DB"
    assert book.preamble is None
    assert book.line_count == len(source_lines(COMMENTED))
    (alert,) = book.alerts
    assert alert.lines == (7, len(source_lines(COMMENTED)))
    assert [(s.number, s.text, s.lines) for s in alert.steps] == [
        (1, "Look at the pod", (15, 15)),
        (2, "Restart it", (16, 16)),
    ]
    assert book.slas == ()
    everything = " ".join(s.text for s in book.sections)
    assert DANGER not in everything
    assert "TODO" not in everything
    assert "shown" in everything
    assert "<!-- in code -->" in everything
    assert "<!-- in a fence -->" in everything


def test_the_page_shows_no_comment_nor_front_matter() -> None:
    book = parse_runbook(COMMENTED, name="db")
    html = body_html(COMMENTED, book)
    assert DANGER not in html
    assert "TODO" not in html
    assert "owner" not in html
    assert html.count("<h2") == 1
    assert '<h2 id="postgresdown">' in html
    assert "<td>DBA<br>backup</td>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;!-- in code --&gt;" in html
    assert "&lt;!-- in a fence --&gt;" in html


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # front matter needs a closing line and YAML inside
        ("---\ntitle: x\n---\n# A\n", "\n\n\n# A\n"),
        ("---\n# A\n---\n", "---\n# A\n---\n"),
        ("---\nplain words\n---\n", "---\nplain words\n---\n"),
        ("---\ntitle: x\n# A\n", "---\ntitle: x\n# A\n"),
        ("# A\n---\ntitle: x\n---\n", "# A\n---\ntitle: x\n---\n"),
        # comments: not in code, not escaped
        ("a <!-- b --> c\n", "a" + " " * 12 + "c\n"),
        ("a <!-- b -->\nc\n", "a\nc\n"),
        ("`<!-- b -->`\n", "`<!-- b -->`\n"),
        ("\\<!-- b -->\n", "\\<!-- b -->\n"),
        ("    <!-- b -->\n", "    <!-- b -->\n"),
        ("<!-- a -->\n<!-- b\nc -->\nd\n", "\n\n\nd\n"),
        ("<!-- never closed\n# A\n1. x\n", "\n\n\n"),
    ],
)
def test_what_is_hidden(text: str, kept: str) -> None:
    assert hide(text)[0] == kept


@given(st.text(alphabet="<!->`#\n ab:\\", max_size=60))
def test_hiding_keeps_every_line_and_never_raises(text: str) -> None:
    hidden, _ = hide(text)
    assert hidden.count("\n") == text.count("\n")
    for before, after in zip(text.split("\n"), hidden.split("\n"), strict=True):
        assert len(after) <= len(before)
