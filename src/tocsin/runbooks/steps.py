"""Numbered lists -> procedures: steps with their text, notes and commands.

A numbered list is a procedure. Authors often break one with an unindented code fence
(`1. build` / fence / `2. deploy`), which Markdown reads as two lists, the second
starting at 2: such a list continues the previous one, and the fence belongs to the
step before it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from tocsin.runbooks.fields import collapse, field_of, logical_lines
from tocsin.runbooks.markdown import (
    Block,
    Fence,
    Inline,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Table,
    inlines_of,
    walk,
)
from tocsin.runbooks.model import Command, Note, Procedure, Step


def inline_commands(inline: Inline) -> list[Command]:
    return [
        Command(code.text.strip(), None, False, code.lines)
        for code in inline.codes()
        if code.text.strip()
    ]


def commands_in(blocks: Sequence[Block]) -> list[Command]:
    """Inline code and code blocks in these blocks (nested ones too), in source order."""
    found: list[Command] = []
    for block in walk(blocks):
        if isinstance(block, Fence):
            text = block.content.rstrip("\n")
            if text.strip():
                found.append(Command(text, block.language, True, block.lines))
        else:
            for inline in _own_inlines(block):
                found.extend(inline_commands(inline))
    return sorted(found, key=lambda c: c.lines)


def _own_inlines(block: Block) -> Iterator[Inline]:
    if isinstance(block, Paragraph):
        yield block.inline
    elif isinstance(block, Table):
        yield from inlines_of(block)


def _notes(blocks: Sequence[Block]) -> list[Note]:
    notes: list[Note] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            text = collapse(block.inline.text)
            if text:
                notes.append(Note(text, block.lines))
        elif isinstance(block, ListBlock):
            for item in block.items:
                lead = item.lead
                if lead is not None and collapse(lead.text):
                    notes.append(Note(collapse(lead.text), item.lines))
                notes.extend(_notes(item.blocks[1:] if lead is not None else item.blocks))
        elif isinstance(block, Quote):
            notes.extend(_notes(block.blocks))
    return notes


def step_of(item: ListItem) -> Step:
    lead = item.lead
    rest = item.blocks[1:] if lead is not None else item.blocks
    return Step(
        number=item.number,
        text=collapse(lead.text) if lead is not None else "",
        lines=item.lines,
        commands=tuple(commands_in(item.blocks)),
        notes=tuple(_notes(rest)),
    )


def list_steps(block: ListBlock) -> list[Step]:
    return [step_of(item) for item in block.items]


@dataclass
class _Draft:
    title: str
    start: int
    end: int
    next_number: int
    steps: list[Step] = field(default_factory=list)

    def add(self, block: ListBlock) -> None:
        self.steps.extend(list_steps(block))
        self.end = max(self.end, block.lines[1])
        self.next_number = block.start + len(block.items)

    def attach(self, blocks: Sequence[Block]) -> None:
        """Give blocks that sat between two parts of the list to the step before them."""
        if not blocks or not self.steps:
            return
        last = self.steps[-1]
        self.steps[-1] = replace(
            last,
            lines=(last.lines[0], max(last.lines[1], blocks[-1].lines[1])),
            commands=last.commands + tuple(commands_in(blocks)),
            notes=last.notes + tuple(_notes(blocks)),
        )
        self.end = max(self.end, blocks[-1].lines[1])


def _lead_in(block: Block | None) -> str | None:
    """`**Response**:` or `If alerts persist:` right before a list names it."""
    if not isinstance(block, Paragraph):
        return None
    units = logical_lines(block.inline)
    if not units:
        return None
    last = units[-1]
    text = collapse(last.text)
    if not text.endswith(":"):
        return None
    found = field_of(last)
    if found is not None and not found.value.text.strip():
        return found.key
    return text.rstrip(":").strip() or None


def procedures_in(blocks: Sequence[Block], section: str | None, title: str) -> list[Procedure]:
    """The procedures of a block sequence (and of bullet lists and quotes in it). Ordered
    lists nested in a step stay notes of that step."""
    out: list[Procedure] = []
    draft: _Draft | None = None
    between: list[Block] = []
    previous: Block | None = None

    def flush() -> None:
        nonlocal draft
        if draft is not None and draft.steps:
            out.append(
                Procedure(draft.title, section, (draft.start, draft.end), tuple(draft.steps))
            )
        draft = None

    for block in blocks:
        if isinstance(block, ListBlock) and block.ordered:
            continues = (
                draft is not None
                and block.start > 1
                and block.start == draft.next_number
                and all(isinstance(b, Fence | Paragraph) for b in between)
            )
            if continues and draft is not None:
                draft.attach(between)
            else:
                flush()
                draft = _Draft(_lead_in(previous) or title, block.lines[0], block.lines[1], 1)
            draft.add(block)
            between = []
        elif draft is not None and isinstance(block, Fence | Paragraph):
            between.append(block)
        else:
            flush()
            between = []
            if isinstance(block, ListBlock):
                for item in block.items:
                    lead = item.lead
                    item_title = collapse(lead.text).rstrip(":") if lead is not None else title
                    out.extend(procedures_in(item.blocks, section, item_title or title))
            elif isinstance(block, Quote):
                out.extend(procedures_in(block.blocks, section, title))
        previous = block
    flush()
    return out
