"""Escalation and contacts: alert categories, escalation levels, contacts, channels.

Who gets told, through what, and after how long: `### Critical Alerts (PagerDuty)`
with `Channel`/`Response Time`/`Escalation` labels is an alert category; `### Level 2:
Manual Escalation (1 hour)` is a level with a delay; `**Operations**: ops@example.com`
in a contacts section is a contact. (Escalation matrices are tables: see tables.py.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence

from tocsin.runbooks.channels import ROUTING_SECTION, find_channels, is_routing_key
from tocsin.runbooks.fields import RawField, collapse
from tocsin.runbooks.markdown import Inline, ListBlock, Paragraph
from tocsin.runbooks.model import (
    AlertCategory,
    Channel,
    Contact,
    Duration,
    EscalationLevel,
    Lines,
    Procedure,
)
from tocsin.runbooks.quantities import duration_at, find_durations, parse_duration
from tocsin.runbooks.sections import Outline, in_section_matching
from tocsin.runbooks.steps import list_steps
from tocsin.runbooks.units import Unit
from tocsin.runbooks.vocabulary import (
    CHANNEL_KEYS,
    CONDITION_KEYS,
    CONTACT_SECTION,
    DESCRIPTION_KEYS,
    ESCALATION_KEYS,
    ESCALATION_SECTION,
    RESPONSE_TIME_KEYS,
    SEVERITY_WORDS,
    SYMPTOM_KEYS,
)

_LEVEL = re.compile(
    r"^\s*(?:escalation\s+)?(?:level|tier|stage|l)\s*[-#]?\s*(?P<n>\d{1,2})\b[\s:.)\-\u2013\u2014]*",
    re.IGNORECASE,
)


#: "Page the on-call via PagerDuty": a product named as the way to reach people.
_NOTIFY_VIA = re.compile(
    r"\b(?:page|paging|paged|notify|notified|alert|escalate|post|send|message|ping)\w*\b"
    r"[^.;]*?\b(?:via|through|using|over)\b",
    re.IGNORECASE,
)


def within(inner: Lines, outer: Lines) -> bool:
    """Whether the lines ``inner`` lie inside the lines ``outer``."""
    return outer[0] <= inner[0] and inner[1] <= outer[1]


# --- channels ----------------------------------------------------------------------


def channels_in(
    units: Iterable[Unit],
    outlines: Sequence[Outline],
    context_of: Callable[[Unit], str | None],
    quiet: Collection[int] = (),
) -> list[Channel]:
    """Channels in prose; product names only where the text is about reaching people
    (never in the `quiet` sections, i.e. alert procedures, where "Slack" is usually the
    system being operated)."""
    out: list[Channel] = []
    seen: set[tuple[str, str | None, Lines]] = set()
    routing_cache: dict[int, bool] = {}
    for unit in units:
        if unit.kind == "heading":
            continue
        index = unit.outline.index
        if index not in routing_cache:
            routing_cache[index] = index not in quiet and in_section_matching(
                outlines, unit.outline, ROUTING_SECTION
            )
        text = unit.inline.masked
        bare = (
            routing_cache[index]
            or (unit.field is not None and is_routing_key(unit.field.norm))
            or (index not in quiet and _NOTIFY_VIA.search(text) is not None)
        )
        for found in find_channels(text, bare=bare):
            lines = unit.inline.lines_of(found.start, found.end)
            key = (found.kind, found.target, lines)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                Channel(
                    kind=found.kind,
                    target=found.target,
                    text=text[found.start : found.end],
                    lines=lines,
                    section=unit.outline.anchor,
                    context=context_of(unit),
                )
            )
    return out


# --- alert categories --------------------------------------------------------------


def is_category(fields: Sequence[RawField], outline: Outline) -> bool:
    keys = {f.norm for f in fields}
    if not keys & CHANNEL_KEYS or not keys & (RESPONSE_TIME_KEYS | ESCALATION_KEYS):
        return False
    if keys & (DESCRIPTION_KEYS | SYMPTOM_KEYS | CONDITION_KEYS):
        return False
    return not any(isinstance(b, ListBlock) and b.ordered for b in outline.body)


def category_name(outline: Outline) -> str:
    return collapse(re.sub(r"\([^)]*\)", " ", outline.name)) or outline.name


def category_of(
    outline: Outline, fields: Sequence[RawField], channels: Sequence[Channel]
) -> AlertCategory:
    name = category_name(outline)
    severity_match = SEVERITY_WORDS.search(name)
    response = next((f for f in fields if f.norm in RESPONSE_TIME_KEYS), None)
    response_time: Duration | None = None
    if response is not None:
        found = parse_duration(response.value.masked)
        if found is not None:
            response_time = duration_at(response.value, response.value.masked, found)
    escalation = next((f for f in fields if f.norm in ESCALATION_KEYS), None)
    field_lines = [f.lines for f in fields]
    return AlertCategory(
        name=name,
        lines=outline.lines,
        section=outline.anchor,
        severity=severity_match.group(1).lower() if severity_match else None,
        channels=tuple(c for c in channels if any(within(c.lines, lines) for lines in field_lines)),
        response_time=response_time,
        escalation=collapse(escalation.value.text) if escalation else None,
        fields=tuple(f.public() for f in fields),
    )


# --- escalation levels -------------------------------------------------------------


def _delay(inline: Inline, after: int) -> Duration | None:
    text = inline.masked
    for found in find_durations(text):
        if found.start >= after:
            return duration_at(inline, text, found)
    return None


def _level_name(rest: str) -> str:
    """`Manual Escalation (1 hour)` -> `Manual Escalation`."""
    cleaned = re.sub(r"\s*\([^)]*\d[^)]*\)", " ", rest)
    return collapse(cleaned).strip(" :-\u2013\u2014") or collapse(rest)


def level_of_heading(
    outline: Outline, outlines: Sequence[Outline], procedures: Sequence[Procedure]
) -> EscalationLevel | None:
    if outline.heading is None:
        return None
    m = _LEVEL.match(outline.name)
    if m is None or not in_section_matching(outlines, outline, ESCALATION_SECTION):
        return None
    heading = outline.heading.inline
    number_at = heading.text.find(m.group("n"))
    condition = None
    for block in outline.body:
        if isinstance(block, Paragraph):
            condition = collapse(block.inline.text).rstrip(":").strip() or None
            break
        if isinstance(block, ListBlock):
            break
    steps = [step for p in procedures for step in p.steps]
    if not steps:
        for block in outline.body:
            if isinstance(block, ListBlock):
                steps.extend(list_steps(block))
    return EscalationLevel(
        number=int(m.group("n")),
        name=_level_name(outline.name[m.end() :]),
        lines=outline.lines,
        section=outline.anchor,
        delay=_delay(heading, number_at + len(m.group("n")) if number_at >= 0 else 0),
        condition=condition,
        steps=tuple(steps),
    )


def levels_in_lists(outline: Outline, outlines: Sequence[Outline]) -> list[EscalationLevel]:
    """`- **Level 1** (0-15 min): on-call engineer` items, or a numbered list in an
    escalation section whose items carry delays."""
    if _LEVEL.match(outline.name) or not in_section_matching(outlines, outline, ESCALATION_SECTION):
        return []
    out: list[EscalationLevel] = []
    for block in outline.body:
        if not isinstance(block, ListBlock):
            continue
        leads = [(item, item.lead) for item in block.items]
        labelled = [(item, lead) for item, lead in leads if lead and _LEVEL.match(lead.text)]
        timed = [(item, lead) for item, lead in leads if lead and find_durations(lead.masked)]
        if labelled:
            for item, lead in labelled:
                m = _LEVEL.match(lead.text)
                assert m is not None
                out.append(
                    EscalationLevel(
                        number=int(m.group("n")),
                        name=_level_name(lead.text[m.end() :]),
                        lines=item.lines,
                        section=outline.anchor,
                        delay=_delay(lead, m.end()),
                        condition=None,
                        steps=(),
                    )
                )
        elif block.ordered and len(timed) >= 2:
            for entry, text in leads:
                if text is None or entry.number is None:
                    continue
                out.append(
                    EscalationLevel(
                        number=entry.number,
                        name=collapse(text.text),
                        lines=entry.lines,
                        section=outline.anchor,
                        delay=_delay(text, 0),
                        condition=None,
                        steps=(),
                    )
                )
    return out


# --- contacts ----------------------------------------------------------------------


def contacts_in(
    outline: Outline, fields: Sequence[RawField], channels: Sequence[Channel]
) -> list[Contact]:
    if outline.anchor is None or not CONTACT_SECTION.search(outline.name):
        return []
    return [
        Contact(
            role=f.key,
            value=collapse(f.value.text),
            lines=f.lines,
            section=outline.anchor,
            channels=tuple(c for c in channels if within(c.lines, f.lines)),
        )
        for f in fields
    ]
