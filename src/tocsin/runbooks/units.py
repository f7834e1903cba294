"""Prose units: the statements of a section, each with its inline text and field.

SLA, channel and check rules read prose statement by statement: a heading, one logical
line of a paragraph or list item, or a table cell. This module enumerates them once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tocsin.runbooks.fields import RawField, field_of, logical_lines
from tocsin.runbooks.markdown import Inline, Paragraph, Table, walk
from tocsin.runbooks.sections import Outline


@dataclass(frozen=True, slots=True)
class Unit:
    inline: Inline
    outline: Outline
    kind: str
    field: RawField | None
    column: str | None = None
    row: str | None = None


def units_of(outline: Outline) -> Iterator[Unit]:
    if outline.heading is not None:
        yield Unit(outline.heading.inline, outline, "heading", None)
    for block in walk(outline.body):
        if isinstance(block, Paragraph):
            for line in logical_lines(block.inline):
                yield Unit(line, outline, "paragraph", field_of(line))
        elif isinstance(block, Table):
            headers = [" ".join(c.text.split()) for c in block.header.cells]
            for row in block.rows:
                label = " ".join(row.cells[0].text.split()) if row.cells else None
                for n, cell in enumerate(row.cells):
                    column = headers[n] if n < len(headers) else None
                    yield Unit(cell, outline, "cell", None, column, label or None)
