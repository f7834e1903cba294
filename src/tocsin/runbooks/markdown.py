"""Markdown tokens -> a small block tree with 1-based source line ranges.

markdown-it-py yields a flat token stream whose block tokens carry 0-based, half-open
line maps (including trailing blank lines) and whose inline children carry none. Every
extractor wants nested blocks and, inside a paragraph, the line of each piece of text,
so this module does that conversion once: blocks get trimmed, inclusive, 1-based
`lines`, and inline text becomes spans that each know their source line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from markdown_it import MarkdownIt
from markdown_it.token import Token

Lines = tuple[int, int]

_PARSER = MarkdownIt("commonmark").enable("table")

TEXT = "text"
CODE = "code"
SOFTBREAK = "softbreak"
HARDBREAK = "hardbreak"
BREAKS = (SOFTBREAK, HARDBREAK)


def normalize_newlines(text: str) -> str:
    """The text markdown-it actually parses: CRLF/CR -> LF, NUL -> U+FFFD. Line numbers
    everywhere refer to `normalize_newlines(text).split("\\n")`."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


def decode_source(data: bytes | str) -> str:
    """Bytes as UTF-8 with replacement (never raises), BOM dropped, newlines normalized."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    return normalize_newlines(text)


def source_lines(text: str) -> list[str]:
    """The lines of normalized text; a final newline does not open an extra line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


_FRONT_KEY = re.compile(r"^[A-Za-z0-9_][\w .-]*:(?:\s|$)")
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"


def front_matter(lines: Sequence[str]) -> int:
    """How many lines of YAML front matter (``---`` / ``key: value`` ... / ``---``, as
    GitHub and MkDocs read it) open the text; 0 when it has none."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for n in range(1, len(lines)):
        if lines[n].rstrip() in ("---", "..."):
            content = [ln for ln in lines[1:n] if ln.strip() and not ln.lstrip().startswith("#")]
            return n + 1 if content and _FRONT_KEY.match(content[0]) else 0
    return 0


@dataclass(frozen=True, slots=True)
class Hidden:
    """Source that is not content: front matter or an HTML comment; ``closed`` is False
    for a ``<!--`` that never ends (it hides the rest of its block, to the file's end
    at top level)."""

    kind: str  # "front-matter" or "comment"
    lines: Lines
    closed: bool = True


def hide(text: str) -> tuple[str, list[Hidden]]:
    """``text`` with its front matter and HTML comments blanked, and what was blanked.
    Every newline stays (line numbers stay right; a blanked character becomes a space,
    trailing ones dropped). A comment is one as Markdown reads it: an HTML block that
    starts with ``<!--`` or one inline in a paragraph, never in code nor escaped."""
    lines = text.split("\n")
    found: list[Hidden] = []
    top = front_matter(lines)
    if top:
        found.append(Hidden("front-matter", (1, top)))
        for n in range(top):
            lines[n] = ""
    if _COMMENT_OPEN not in text:
        return "\n".join(lines), found
    masked = "\n".join(lines)
    try:
        tokens = _PARSER.parse(masked)
    except Exception:  # never raise: keep the comments rather than lose the text
        return masked, found
    chars = list(masked)
    starts = list(accumulate((len(ln) + 1 for ln in lines), initial=0))
    quoted = 0
    last_map: list[int] | None = None
    for tok in tokens:
        if tok.type == "blockquote_open":
            quoted += 1
        elif tok.type == "blockquote_close":
            quoted -= 1
        if tok.map:
            last_map = tok.map
        if tok.type == "html_block" and tok.content.lstrip().startswith(_COMMENT_OPEN):
            region = tok.map or last_map
            code_spans = False
        elif tok.type == "inline" and any(
            c.type == "html_inline" and c.content.startswith(_COMMENT_OPEN)
            for c in tok.children or ()
        ):
            region = tok.map or last_map
            code_spans = True
        else:
            continue
        if region is None:
            continue
        lo, hi = starts[region[0]], starts[min(region[1], len(lines))] - 1
        for a, b, closed in _comments(masked, lo, max(lo, hi), code_spans):
            if not closed and code_spans:
                continue  # a stray "<!--" in a paragraph is text
            first, last = masked.count("\n", 0, a) + 1, masked.count("\n", 0, b) + 1
            found.append(Hidden("comment", (first, last), closed))
            line_start = True
            for i in range(a, b):
                if chars[i] == "\n":
                    line_start = True
                    continue
                if line_start and i > a and quoted and chars[i] in " \t>":
                    continue  # a blockquote's marker stays, so the quote does
                line_start = False
                chars[i] = " "
    out = "".join(chars).split("\n")
    for n in {
        n - 1 for h in found if h.kind == "comment" for n in range(h.lines[0], h.lines[1] + 1)
    }:
        if len(out[n].rstrip()) < len(lines[n].rstrip()):
            out[n] = out[n].rstrip()  # the comment ran to the line's end: no hard break
    return "\n".join(out), sorted(found, key=lambda h: h.lines)


def _comments(text: str, lo: int, hi: int, code_spans: bool) -> Iterator[tuple[int, int, bool]]:
    """``(start, end, closed)`` of each comment in ``text[lo:hi]``, skipping code spans
    (in a paragraph) and escaped ``\\<!--``; an unclosed one runs to ``hi``."""
    i = lo
    while i < hi:
        if code_spans and text[i] == "`":
            run = i
            while run < hi and text[run] == "`":
                run += 1
            fence = text[i:run]
            close = _backtick_run(text[:hi], fence, run, opening=False)
            i = close + len(fence) if close >= 0 else run
            continue
        if text.startswith(_COMMENT_OPEN, i) and (i == lo or text[i - 1] != "\\"):
            end = text.find(_COMMENT_CLOSE, i + 2, hi)  # `<!-->` is one, too
            if end < 0:
                yield i, hi, False
                return
            yield i, end + len(_COMMENT_CLOSE), True
            i = end + len(_COMMENT_CLOSE)
            continue
        i += 1


@dataclass(frozen=True, slots=True)
class Span:
    """One run of inline text on one source line."""

    text: str
    line: int
    kind: str = TEXT
    strong: bool = False
    emphasis: bool = False
    href: str | None = None
    last_line: int = 0  # a code span can run over several lines; 0: same as `line`

    @property
    def lines(self) -> tuple[int, int]:
        return (self.line, max(self.line, self.last_line))


@dataclass(frozen=True, slots=True)
class Inline:
    """Inline content (a paragraph, heading or cell) as spans; `text` is their plain
    concatenation (markup removed; line breaks kept as newlines)."""

    spans: tuple[Span, ...]
    lines: Lines
    text: str
    ends: tuple[int, ...]  # cumulative end offset of each span in `text`

    @staticmethod
    def of(spans: Sequence[Span], fallback: Lines) -> Inline:
        spans = tuple(spans)
        lines = (min(s.line for s in spans), max(s.lines[1] for s in spans)) if spans else fallback
        return Inline(
            spans,
            lines,
            "".join(s.text for s in spans),
            tuple(accumulate(len(s.text) for s in spans)),
        )

    def _span_at(self, offset: int) -> Span | None:
        if not self.spans:
            return None
        i = bisect_right(self.ends, offset)
        return self.spans[min(i, len(self.spans) - 1)]

    def line_at(self, offset: int) -> int:
        """Source line of the character at `offset` in `text`."""
        span = self._span_at(offset)
        return span.line if span is not None else self.lines[0]

    def lines_of(self, start: int, end: int) -> Lines:
        """Source lines of `text[start:end]`."""
        first = self.line_at(start)
        span = self._span_at(max(start, end - 1))
        last = span.lines[1] if span is not None else first
        return (first, max(first, last))

    @property
    def masked(self) -> str:
        """`text` with code spans blanked (same length), so prose rules skip code."""
        return "".join(" " * len(s.text) if s.kind == CODE else s.text for s in self.spans)

    def codes(self) -> Iterator[Span]:
        return (s for s in self.spans if s.kind == CODE)

    def slice(self, start: int, end: int) -> Inline:
        """The inline content of `text[start:end]`, spans cut to fit."""
        out: list[Span] = []
        pos = 0
        for span in self.spans:
            lo, hi = pos, pos + len(span.text)
            pos = hi
            if hi <= start or lo >= end:
                continue
            cut = span.text[max(start, lo) - lo : min(end, hi) - lo]
            if cut:
                out.append(replace(span, text=cut))
        return Inline.of(out, (self.line_at(start), self.line_at(start)))

    def strip(self) -> Inline:
        text = self.text
        start = len(text) - len(text.lstrip())
        end = len(text.rstrip())
        if start >= end:
            return Inline.of((), self.lines)
        return self.slice(start, end)

    def split_lines(self) -> list[Inline]:
        """One Inline per source line (line breaks dropped, empty lines skipped)."""
        groups: list[list[Span]] = [[]]
        for span in self.spans:
            if span.kind in BREAKS:
                groups.append([])
            else:
                groups[-1].append(span)
        return [Inline.of(group, self.lines) for group in groups if group]


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    inline: Inline
    lines: Lines


@dataclass(frozen=True, slots=True)
class Paragraph:
    inline: Inline
    lines: Lines


@dataclass(frozen=True, slots=True)
class Fence:
    """A fenced (or indented, `fenced=False`) code block."""

    language: str | None
    content: str
    lines: Lines
    fenced: bool


@dataclass(frozen=True, slots=True)
class ListItem:
    number: int | None
    blocks: tuple[Block, ...]
    lines: Lines

    @property
    def lead(self) -> Inline | None:
        """The item's own text: its first paragraph, if it starts with one."""
        if self.blocks and isinstance(self.blocks[0], Paragraph):
            return self.blocks[0].inline
        return None


@dataclass(frozen=True, slots=True)
class ListBlock:
    ordered: bool
    start: int
    items: tuple[ListItem, ...]
    lines: Lines


@dataclass(frozen=True, slots=True)
class TableRow:
    cells: tuple[Inline, ...]
    lines: Lines


@dataclass(frozen=True, slots=True)
class Table:
    header: TableRow
    rows: tuple[TableRow, ...]
    lines: Lines


@dataclass(frozen=True, slots=True)
class Quote:
    blocks: tuple[Block, ...]
    lines: Lines


@dataclass(frozen=True, slots=True)
class Other:
    """HTML blocks and thematic breaks: kept, never classified."""

    kind: str
    text: str
    lines: Lines


Block = Heading | Paragraph | Fence | ListBlock | Table | Quote | Other


def walk(blocks: Sequence[Block]) -> Iterator[Block]:
    """Every block, depth first, including those nested in lists and quotes."""
    for block in blocks:
        yield block
        if isinstance(block, ListBlock):
            for item in block.items:
                yield from walk(item.blocks)
        elif isinstance(block, Quote):
            yield from walk(block.blocks)


def inlines_of(block: Block) -> Iterator[Inline]:
    """The inline contents of one block and of everything nested in it."""
    for inner in walk((block,)):
        if isinstance(inner, Heading | Paragraph):
            yield inner.inline
        elif isinstance(inner, Table):
            yield from inner.header.cells
            for row in inner.rows:
                yield from row.cells


def parse_blocks(text: str) -> tuple[Block, ...]:
    """Blocks of already-normalized text (see `decode_source`)."""
    lines = source_lines(text)
    if not lines:
        return ()
    try:
        tokens = _PARSER.parse(text)
    except Exception:  # markdown-it bug or pathological input: degrade, never raise
        return (Other("text", text, (1, len(lines))),)
    return tuple(_Builder(tokens, lines).blocks(None, (1, len(lines))))


def _int_attr(value: object, default: int) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


class _Builder:
    def __init__(self, tokens: list[Token], lines: list[str]) -> None:
        self.tokens = tokens
        self.src = lines
        self.pos = 0

    def lines(self, token: Token, fallback: Lines) -> Lines:
        if not token.map:
            return fallback
        count = len(self.src)
        start = min(max(token.map[0] + 1, 1), count)
        end = min(max(token.map[1], start), count)
        while end > start and not self.src[end - 1].strip():
            end -= 1
        return (start, end)

    def blocks(self, stop: str | None, fallback: Lines) -> list[Block]:
        out: list[Block] = []
        tokens = self.tokens
        while self.pos < len(tokens):
            tok = tokens[self.pos]
            kind = tok.type
            if kind == stop:
                self.pos += 1
                return out
            here = self.lines(tok, fallback)
            if kind == "heading_open":
                level = int(tok.tag[1:]) if tok.tag[1:].isdigit() else 1
                out.append(Heading(level, self.inline_until("heading_close", here), here))
            elif kind == "paragraph_open":
                out.append(Paragraph(self.inline_until("paragraph_close", here), here))
            elif kind in ("fence", "code_block"):
                info = tok.info.strip().split()
                language = (info[0].strip("{}.") or None) if info else None
                out.append(Fence(language, tok.content, here, kind == "fence"))
                self.pos += 1
            elif kind in ("bullet_list_open", "ordered_list_open"):
                out.append(self.list_block(tok, here))
            elif kind == "blockquote_open":
                self.pos += 1
                out.append(Quote(tuple(self.blocks("blockquote_close", here)), here))
            elif kind == "table_open":
                table = self.table(here)
                if table is not None:
                    out.append(table)
            elif kind == "html_block":
                out.append(Other("html", tok.content, here))
                self.pos += 1
            elif kind == "hr":
                out.append(Other("hr", "", here))
                self.pos += 1
            else:
                self.pos += 1
        return out

    def inline_until(self, close: str, here: Lines) -> Inline:
        self.pos += 1
        inline = Inline.of((), here)
        while self.pos < len(self.tokens) and self.tokens[self.pos].type != close:
            tok = self.tokens[self.pos]
            if tok.type == "inline":
                inline = self.inline(tok, here)
            self.pos += 1
        self.pos += 1
        return inline

    def list_block(self, opener: Token, here: Lines) -> ListBlock:
        ordered = opener.type == "ordered_list_open"
        close = "ordered_list_close" if ordered else "bullet_list_close"
        start = _int_attr(opener.attrs.get("start"), 1)
        items: list[ListItem] = []
        self.pos += 1
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok.type == close:
                self.pos += 1
                break
            if tok.type == "list_item_open":
                item_lines = self.lines(tok, here)
                self.pos += 1
                blocks = tuple(self.blocks("list_item_close", item_lines))
                number = start + len(items) if ordered else None
                items.append(ListItem(number, blocks, item_lines))
            else:
                self.pos += 1
        return ListBlock(ordered, start, tuple(items), here)

    def table(self, here: Lines) -> Table | None:
        rows: list[TableRow] = []
        self.pos += 1
        while self.pos < len(self.tokens) and self.tokens[self.pos].type != "table_close":
            tok = self.tokens[self.pos]
            if tok.type == "tr_open":
                row_lines = self.lines(tok, here)
                cells: list[Inline] = []
                self.pos += 1
                while self.pos < len(self.tokens) and self.tokens[self.pos].type != "tr_close":
                    cell_tok = self.tokens[self.pos]
                    if cell_tok.type == "inline":
                        cells.append(self.inline(cell_tok, row_lines))
                    self.pos += 1
                rows.append(TableRow(tuple(cells), row_lines))
            self.pos += 1
        self.pos += 1
        if not rows:
            return None
        return Table(rows[0], tuple(rows[1:]), here)

    def inline(self, token: Token, here: Lines) -> Inline:
        """Spans with their lines. Breaks advance the line; so do newlines hidden inside
        a code span or inline HTML, which markdown-it does not report: those are found by
        walking a cursor through the raw `token.content` alongside the children."""
        raw = token.content
        line = token.map[0] + 1 + self.stripped_lead(token) if token.map else here[0]
        last = max(here[1], line)
        cursor = 0
        spans: list[Span] = []
        strong = emphasis = 0
        href: str | None = None
        for child in token.children or []:
            kind = child.type
            if kind in BREAKS:
                spans.append(Span("\n", line, kind))
                newline = raw.find("\n", cursor)
                cursor = newline + 1 if newline >= 0 else cursor
                line = min(line + 1, last)
            elif kind == "strong_open":
                strong += 1
            elif kind == "strong_close":
                strong = max(0, strong - 1)
            elif kind == "em_open":
                emphasis += 1
            elif kind == "em_close":
                emphasis = max(0, emphasis - 1)
            elif kind == "link_open":
                target = child.attrs.get("href")
                href = target if isinstance(target, str) else None
            elif kind == "link_close":
                href = None
            elif kind == "code_inline":
                start_line = line
                hidden, cursor = _code_newlines(raw, child.markup or "`", cursor)
                line = min(line + hidden, last)
                spans.append(
                    Span(child.content, start_line, CODE, strong > 0, emphasis > 0, href, line)
                )
            elif kind == "html_inline":
                found = raw.find(child.content, cursor)
                if found >= 0:
                    cursor = found + len(child.content)
                    line = min(line + child.content.count("\n"), last)
                if child.content.lower().replace(" ", "") in ("<br>", "<br/>"):
                    spans.append(Span("\n", line, "html"))
                else:
                    # shown as written, as the served page shows raw HTML: most often a
                    # placeholder in prose ("on host <instance>"), which was dropped
                    # (comments never come here: ``hide`` blanked them)
                    spans.append(Span(child.content, line, TEXT, strong > 0, emphasis > 0, href))
            elif child.content:
                spans.append(Span(child.content, line, TEXT, strong > 0, emphasis > 0, href))
        return Inline.of(spans, here)

    def stripped_lead(self, token: Token) -> int:
        """Lines markdown-it dropped from the start of a paragraph's content: lines of
        only form feeds or other whitespace it does not count as blank are stripped with
        the rest of the surrounding whitespace."""
        assert token.map is not None
        missing = (token.map[1] - token.map[0]) - (token.content.count("\n") + 1)
        lead = 0
        while (
            lead < missing
            and token.map[0] + lead < len(self.src)
            and not self.src[token.map[0] + lead].lstrip(" >\t").strip()
        ):
            lead += 1
        return lead


def _code_newlines(raw: str, fence: str, cursor: int) -> tuple[int, int]:
    """(newlines inside the code span delimited by `fence` found at or after `cursor`,
    position after it). An opener is a backtick run of exactly that length, not escaped."""
    opener = _backtick_run(raw, fence, cursor, opening=True)
    if opener < 0:
        return 0, cursor
    closer = _backtick_run(raw, fence, opener + len(fence), opening=False)
    if closer < 0:
        return 0, cursor
    return raw.count("\n", opener, closer), closer + len(fence)


def _backtick_run(raw: str, fence: str, start: int, *, opening: bool) -> int:
    for m in re.finditer(r"`+", raw[start:]):
        at = start + m.start()
        if m.group() != fence:
            continue
        if opening:
            slashes = len(raw[:at]) - len(raw[:at].rstrip("\\"))
            if slashes % 2:
                continue
        return at
    return -1
