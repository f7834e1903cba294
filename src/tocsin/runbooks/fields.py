"""`**Key**: value` lines: the labelled facts runbooks hang everything on.

Alert sections (`**Severity**: Critical`), alert categories (`- **Channel**: PagerDuty`),
contact lists and troubleshooting lists all say what a line means with a bold or
`Key:` label; this module finds those labels once, with their lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tocsin.runbooks.markdown import (
    BREAKS,
    HARDBREAK,
    Block,
    Inline,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Span,
    Table,
    TableRow,
)
from tocsin.runbooks.model import Field, Lines
from tocsin.runbooks.vocabulary import SEVERITY_KEYS, SEVERITY_WORDS

_PLAIN_KEY = re.compile(r"([A-Z][\w /&()'+.-]{0,40}?)\s*:(?:\s+|$)")
_SEPARATOR = re.compile(r"\s*(?::|\u2013|\u2014|-(?=\s))\s*")
_MAX_KEY_WORDS = 6
_KEY_HEADER = re.compile(r"^(?:field|key|property|attribute|parameter|name|item|setting)s?$", re.I)
_LABEL = re.compile(r"[a-z][a-z /&()'+.-]{0,40}")
_VALUE_HEADER = re.compile(r"^(?:value|values|details?|description|setting)$", re.I)


@dataclass(frozen=True, slots=True)
class RawField:
    key: str
    norm: str
    value: Inline
    lines: Lines
    unit: Inline
    item: ListItem | None

    def public(self) -> Field:
        return Field(self.key, collapse(self.value.text), self.lines)


def collapse(text: str) -> str:
    return " ".join(text.split())


def norm_key(key: str) -> str:
    return collapse(re.sub(r"[*_`:]", " ", key)).lower()


def field_of(inline: Inline, item: ListItem | None = None) -> RawField | None:
    """The field a logical line states, if it starts with a label."""
    unit = inline.strip()
    spans = unit.spans
    if not spans:
        return None
    text = unit.text
    if spans[0].strong:
        key_len = 0
        for span in spans:
            if not span.strong or span.kind in BREAKS:
                break
            key_len += len(span.text)
        key = text[:key_len].strip()
        if key.endswith(":"):
            key = key[:-1].strip()
            value_start = key_len
        else:
            sep = _SEPARATOR.match(text, key_len)
            if sep is None:
                return None
            value_start = sep.end()
    elif spans[0].kind == "text":
        m = _PLAIN_KEY.match(text)
        if m is None:
            return None
        key = m.group(1).strip()
        value_start = m.end()
    else:
        return None
    if not key or len(key.split()) > _MAX_KEY_WORDS:
        return None
    value = (
        unit.slice(value_start, len(text)).strip()
        if value_start < len(text)
        else (Inline.of((), (unit.lines[1], unit.lines[1])))
    )
    return RawField(key, norm_key(key), value, unit.lines, unit, item)


def logical_lines(inline: Inline) -> list[Inline]:
    """Split a paragraph where a line means a new statement: at hard breaks and before a
    line that starts with a label; soft-wrapped prose stays one unit."""
    groups: list[list[Span]] = [[]]
    for span in inline.spans:
        if span.kind in BREAKS:
            groups.append([span])
        else:
            groups[-1].append(span)
    units: list[list[Span]] = []
    for group in groups:
        content = [s for s in group if s.kind not in BREAKS]
        if not content:
            continue
        hard = bool(group) and group[0].kind == HARDBREAK
        starts_field = field_of(Inline.of(content, inline.lines)) is not None
        if not units or hard or starts_field:
            units.append(content)
        else:
            units[-1].extend(group)
    return [Inline.of(u, inline.lines) for u in units]


def fields_in(blocks: Sequence[Block]) -> Iterator[RawField]:
    """Fields stated directly in these blocks: paragraph lines and bullet item leads (not
    deeper: a nested list belongs to its item; numbered items are steps, not labels)."""
    for block in blocks:
        if isinstance(block, Paragraph):
            for unit in logical_lines(block.inline):
                found = field_of(unit)
                if found is not None:
                    yield found
        elif isinstance(block, ListBlock) and not block.ordered:
            for item in block.items:
                lead = item.lead
                if lead is None:
                    continue
                for unit in logical_lines(lead):
                    found = field_of(unit, item)
                    if found is not None:
                        yield found
        elif isinstance(block, Table):
            yield from _table_fields(block)
        elif isinstance(block, Quote):  # `> **Severity**: critical`
            yield from fields_in(block.blocks)


def _table_fields(table: Table) -> Iterator[RawField]:
    """A two-column `Field | Value` table states one label per row; so does one whose
    rows, its header row too, are all labels and values, one of them a severity
    (`| Severity | critical |` / `| Threshold | > 90% |`)."""
    header = [collapse(c.text) for c in table.header.cells]
    if len(header) != 2:
        return
    rows: tuple[TableRow, ...] = table.rows
    if not (_KEY_HEADER.match(header[0]) and _VALUE_HEADER.match(header[1])):
        rows = (table.header, *table.rows) if header[0] else table.rows
        if not _labelled_rows(rows):
            return
    for row in rows:
        if len(row.cells) < 2:
            continue
        key = collapse(row.cells[0].text).rstrip(":")
        if key and len(key.split()) <= _MAX_KEY_WORDS:
            value = row.cells[1].strip()
            yield RawField(key, norm_key(key), value, row.lines, row.cells[1], None)


def label_table(table: Table) -> bool:
    """`| Alert | DiskFull |` / `| Severity | warning |`: labels down its first column
    (its header row too), not a table of alerts."""
    header = [collapse(c.text) for c in table.header.cells]
    return len(header) == 2 and bool(header[0]) and _labelled_rows((table.header, *table.rows))


def _labelled_rows(rows: Sequence[TableRow]) -> bool:
    """Rows of `label | value`, a label per row, one of them a severity with a
    severity's value: not a matrix whose columns are `Severity | Response`."""
    keys = [norm_key(collapse(r.cells[0].text).rstrip(":")) for r in rows if r.cells]
    if not keys or len(set(keys)) < len(keys) or not all(_LABEL.fullmatch(k) for k in keys):
        return False
    return any(
        len(r.cells) == 2
        and norm_key(collapse(r.cells[0].text).rstrip(":")) in SEVERITY_KEYS
        and SEVERITY_WORDS.match(collapse(r.cells[1].text)) is not None
        for r in rows
    )
