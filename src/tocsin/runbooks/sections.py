"""The heading tree: which blocks belong to which section, and section anchors.

Every extractor works per section (an alert is a section, an SLA applies in the
context of its section), so the outline is computed once: each section's own blocks
(up to its first sub-heading), its full line range and its GitHub-style anchor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tocsin.runbooks.markdown import Block, Heading
from tocsin.runbooks.model import Lines
from tocsin.runbooks.names import AnchorRegistry, clean_title


@dataclass(frozen=True, slots=True)
class Outline:
    """One section during extraction; index 0 may be the preamble (level 0, no anchor)."""

    index: int
    anchor: str | None
    title: str
    name: str
    level: int
    lines: Lines
    heading: Heading | None
    body: tuple[Block, ...]
    body_lines: Lines | None
    parent: int | None
    children: tuple[int, ...]


def _trim(start: int, end: int, src: Sequence[str]) -> Lines | None:
    while start <= end and not src[start - 1].strip():
        start += 1
    while end >= start and not src[end - 1].strip():
        end -= 1
    return (start, end) if start <= end else None


def build_outline(blocks: Sequence[Block], src: Sequence[str]) -> list[Outline]:
    heads = [i for i, b in enumerate(blocks) if isinstance(b, Heading)]
    count = len(src)
    anchors = AnchorRegistry()
    out: list[Outline] = []
    first = heads[0] if heads else len(blocks)
    if first > 0:
        body = tuple(blocks[:first])
        end = blocks[first].lines[0] - 1 if heads else count
        lines = _trim(1, max(end, 1), src) or (1, 1)
        out.append(Outline(0, None, "", "", 0, lines, None, body, lines, None, ()))
    parents: list[int] = []
    children: dict[int, list[int]] = {}
    for n, pos in enumerate(heads):
        heading = blocks[pos]
        assert isinstance(heading, Heading)
        next_pos = heads[n + 1] if n + 1 < len(heads) else len(blocks)
        body = tuple(blocks[pos + 1 : next_pos])
        index = len(out)
        while parents and out[parents[-1]].level >= heading.level:
            parents.pop()
        parent = parents[-1] if parents else None
        end = count
        for later in heads[n + 1 :]:
            other = blocks[later]
            assert isinstance(other, Heading)
            if other.level <= heading.level:
                end = other.lines[0] - 1
                break
        lines = _trim(heading.lines[0], max(end, heading.lines[1]), src) or heading.lines
        own_end = blocks[next_pos].lines[0] - 1 if next_pos < len(blocks) else count
        body_lines = (
            _trim(heading.lines[1] + 1, own_end, src) if own_end > heading.lines[1] else None
        )
        title = " ".join(heading.inline.text.split())
        out.append(
            Outline(
                index=index,
                anchor=anchors.claim(title),
                title=title,
                name=clean_title(title),
                level=heading.level,
                lines=lines,
                heading=heading,
                body=body,
                body_lines=body_lines,
                parent=parent,
                children=(),
            )
        )
        if parent is not None:
            children.setdefault(parent, []).append(index)
        parents.append(index)
    return [replace(o, children=tuple(children.get(o.index, ()))) for o in out]


def ancestors(outlines: Sequence[Outline], outline: Outline) -> list[Outline]:
    """Parent first, up to the root."""
    out: list[Outline] = []
    current = outline.parent
    while current is not None:
        out.append(outlines[current])
        current = outlines[current].parent
    return out


def in_section_matching(
    outlines: Sequence[Outline], outline: Outline, pattern: re.Pattern[str]
) -> bool:
    """Whether this section or an ancestor below the document title matches `pattern`."""
    for candidate in [outline, *ancestors(outlines, outline)]:
        if candidate.level == 1 and candidate.parent is None and candidate is not outline:
            continue
        if candidate.level >= 1 and pattern.search(candidate.name):
            return True
    return False
