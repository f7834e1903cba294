"""SLAs and timers stated in prose: deadlines, intervals, advance notice, response times.

"Acknowledge within 5 minutes", "update every 15 minutes", "announce at least 48 hours
in advance", "Response Time: < 5 minutes", "escalate after 15 minutes if not
acknowledged". Each becomes a kind, an action (the clause with the time phrase taken
out), a duration and the context (alert category or section) it applies to.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tocsin.runbooks.fields import collapse
from tocsin.runbooks.model import Sla
from tocsin.runbooks.quantities import DURATION, Found, duration_at, find_intervals, parse_duration
from tocsin.runbooks.units import Unit

DEADLINE = "deadline"
INTERVAL = "interval"
ADVANCE_NOTICE = "advance-notice"
RESPONSE_TIME = "response-time"

_OPS = r"(?:(?:is|of|target|under|within|less\s+than|below|at\s+most|max(?:imum)?)\s+|<=?\s*|≤\s*)*"
_RESPONSE_TIME = re.compile(
    r"\b(?:response|reaction|acknowledge?ment|ack(?:nowledge)?)[\s-]+times?\b"
    rf"(?P<cut>\s*(?:\([^)]*\)\s*)?[:=]?\s*{_OPS}(?P<dur>{DURATION}))",
    re.IGNORECASE,
)
_RESPOND = re.compile(
    rf"\brespond(?:s|ed)?\b[^.;:\n]{{0,40}}?(?P<cut>\b(?:with)?in\s+(?P<dur>{DURATION}))",
    re.IGNORECASE,
)
_ADVANCE = re.compile(
    r"(?P<cut>(?:at\s+least\s+|a\s+minimum\s+of\s+|minimum\s+(?:of\s+)?|no\s+less\s+than\s+)?"
    rf"(?P<dur>{DURATION})(?:'|\u2019)?\s+(?:in\s+advance|ahead\s+of\s+time|ahead|beforehand"
    r"|(?:of\s+)?(?:prior\s+)?notice\b))",
    re.IGNORECASE,
)
_BEFORE = re.compile(
    r"(?<!\bfor\s)(?P<cut>(?:at\s+least\s+)?"
    rf"(?P<dur>{DURATION})\s+(?:before|prior\s+to)\b)",
    re.IGNORECASE,
)
_NOTICE_WORDS = re.compile(r"\b(?:announc|notif|notice|inform|communicat|email|post|warn)", re.I)
_WITHIN = re.compile(
    rf"(?P<cut>\bwithin\s+(?:the\s+(?:first|next)\s+|a\s+maximum\s+of\s+)?(?P<dur>{DURATION}))",
    re.IGNORECASE,
)
_MAX = re.compile(
    rf"(?P<cut>\b(?:max(?:imum)?|at\s+most|no\s+later\s+than)\s*:?\s*(?P<dur>{DURATION}))",
    re.IGNORECASE,
)
_AFTER = re.compile(
    r"(?P<cut>\b(?:after|if\s+(?:not\s+|un)\w+\s+(?:for|after|with)?in|unacknowledged\s+for)"
    rf"\s+(?P<dur>{DURATION}))",
    re.IGNORECASE,
)
_ESCALATION_WORDS = re.compile(
    r"escalat|\bpag(?:e|es|ed|ing)\b|\bnotif|acknowledg|unresolved|not\s+resolved|no\s+response"
    r"|\bwake\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
_CONDITIONAL = re.compile(
    r"^(?:if|when|unless|once|whenever|should|after|within|before)\b", re.IGNORECASE
)
_ANCHOR_PHRASE = re.compile(r"^\s*(?:of|after|from|following)\s+[^,;()]*", re.IGNORECASE)
_LEADING_JOINERS = re.compile(r"^(?:and|or|then|but|so)\b\s*", re.IGNORECASE)
_TABLE_SLA_HEADER = re.compile(
    r"(?P<response>response\s*time|time\s+to\s+(?:respond|acknowledge)|\back\s+time|reaction)"
    r"|(?P<update>update|cadence|frequency|\bevery\b)"
    r"|(?P<deadline>acknowledg|\back\b|resolution|resolve|escalat\w*\s+after|deadline|\bsla\b"
    r"|within)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str
    duration: Found
    cut_start: int
    cut_end: int


class _Layout:
    """Sentence ends and commas of one text, found once (a paragraph may hold many
    timers; rescanning it per timer would be quadratic)."""

    def __init__(self, text: str) -> None:
        self.text = text
        found = list(_SENTENCE_END.finditer(text))
        self.stop_starts = [m.start() for m in found]
        self.stop_ends = [m.end() for m in found]
        self.commas = [m.start() for m in re.finditer(",", text)]

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """Bounds of the sentence around `text[start:end]` (stops excluded)."""
        i = bisect_right(self.stop_ends, start)
        left = self.stop_ends[i - 1] if i else 0
        j = bisect_left(self.stop_starts, end)
        right = self.stop_starts[j] if j < len(self.stop_starts) else len(self.text)
        return left, right

    def commas_between(self, start: int, end: int) -> list[int]:
        return self.commas[bisect_left(self.commas, start) : bisect_left(self.commas, end)]


def _hits(layout: _Layout) -> list[_Hit]:
    text = layout.text
    hits: list[_Hit] = []

    def add(kind: str, pattern: re.Pattern[str], accept: Callable[[re.Match[str]], bool]) -> None:
        for m in pattern.finditer(text):
            inner = parse_duration(m.group("dur"))
            if inner is None or not accept(m):
                continue
            offset = m.start("dur")
            found = Found(offset + inner.start, offset + inner.end, duration=inner.duration)
            hits.append(_Hit(kind, found, m.start("cut"), m.end("cut")))

    def sentence(m: re.Match[str]) -> str:
        start, end = layout.sentence(m.start(), m.end())
        return text[start:end]

    always: Callable[[re.Match[str]], bool] = lambda m: True  # noqa: E731
    add(RESPONSE_TIME, _RESPONSE_TIME, always)
    add(RESPONSE_TIME, _RESPOND, always)
    add(ADVANCE_NOTICE, _ADVANCE, always)
    add(ADVANCE_NOTICE, _BEFORE, lambda m: bool(_NOTICE_WORDS.search(sentence(m))))
    for found, start, end in find_intervals(text):
        hits.append(_Hit(INTERVAL, found, start, end))
    add(DEADLINE, _WITHIN, always)
    add(DEADLINE, _MAX, always)
    add(DEADLINE, _AFTER, lambda m: bool(_ESCALATION_WORDS.search(sentence(m))))
    accepted: list[_Hit] = []
    taken = bytearray(len(text))  # characters already claimed by an accepted duration
    for hit in hits:
        if hit.duration.duration is not None and hit.duration.duration[2] == "millisecond":
            continue  # "within 300 ms" is a latency target, not a timer people run
        if any(taken[hit.duration.start : hit.duration.end]):
            continue
        taken[hit.duration.start : hit.duration.end] = b"\x01" * (
            hit.duration.end - hit.duration.start
        )
        accepted.append(hit)
    return sorted(accepted, key=lambda h: h.duration.start)


def _clause(layout: _Layout, hit: _Hit, floor: int) -> tuple[int, int]:
    """The comma clause holding the hit; a leading condition ("If you cannot mitigate
    within 30 minutes,") takes the next clause along; text after the hit is cut at "and",
    and a clause never reaches back past `floor` (the end of the previous hit)."""
    text = layout.text
    s_start, s_end = layout.sentence(hit.cut_start, hit.cut_end)
    s_start = max(s_start, floor)
    commas = layout.commas_between(s_start, s_end)
    split = bisect_left(commas, hit.cut_start)
    before, after = commas[:split], commas[split:]
    start = before[-1] + 1 if before else s_start
    end = after[0] if after else s_end
    if _CONDITIONAL.match(text[start:end].strip()) and after:
        end = after[1] if len(after) > 1 else s_end
    tail = re.search(r"\s(?:and|but)\s", text[hit.cut_end : end])
    if tail is not None:
        end = hit.cut_end + tail.start()
    return start, max(end, hit.cut_end)


def _action(text: str, start: int, end: int, hit: _Hit) -> str:
    after = text[hit.cut_end : end]
    anchor = _ANCHOR_PHRASE.match(after)
    if anchor is not None:  # "within 3 days of resolution": the clock's start, not the action
        after = after[anchor.end() :]
    kept = text[start : hit.cut_start] + " " + after
    kept = re.sub(r"[(\[]\s*[)\]]", " ", kept)
    kept = re.sub(r"\s+([,;.:])", r"\1", collapse(kept))
    kept = _LEADING_JOINERS.sub("", kept)
    return _balanced(kept.strip(" ,.;:-\u2013\u2014").strip())


def _balanced(text: str) -> str:
    """Drop a stray bracket left at either end by cutting out the time phrase."""
    while text.endswith(")") and text.count(")") > text.count("("):
        text = text[:-1].rstrip(" ,.;:")
    while text.startswith("(") and text.count("(") > text.count(")"):
        text = text[1:].lstrip(" ,.;:")
    return text


def _labelled(action: str, key: str) -> str:
    """`Deletion - Honor requests` -> `Deletion: Honor requests` (one label style)."""
    if not action:
        return key
    if action.startswith(key):
        rest = action[len(key) :].lstrip(" :\u2013\u2014-").strip()
        return f"{key}: {rest}" if rest else key
    return action


def slas_in(units: Iterable[Unit], context_of: Callable[[Unit], str | None]) -> list[Sla]:
    out: list[Sla] = []
    for unit in units:
        if unit.kind == "cell" and unit.column and _TABLE_SLA_HEADER.search(unit.column):
            out.extend(_cell_slas(unit, unit.row or context_of(unit)))
            continue
        text = unit.inline.masked.replace("\n", " ")
        layout = _Layout(text)
        floor = 0
        for hit in _hits(layout):
            start, end = _clause(layout, hit, floor)
            floor = hit.cut_end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            action = _action(text, start, end, hit)
            if unit.field is not None:
                action = _labelled(action, unit.field.key)
            out.append(
                Sla(
                    kind=hit.kind,
                    action=action,
                    duration=duration_at(unit.inline, text, hit.duration),
                    text=collapse(unit.inline.text[start:end]),
                    lines=unit.inline.lines_of(start, end),
                    section=unit.outline.anchor,
                    context=context_of(unit),
                )
            )
    return out


def _cell_slas(unit: Unit, context: str | None) -> list[Sla]:
    """A table column like `Response time` or `Update cadence`: its cells are timers."""
    assert unit.column is not None
    text = unit.inline.masked.replace("\n", " ")
    found = parse_duration(text)
    if found is None:
        return []
    m = _TABLE_SLA_HEADER.search(unit.column)
    kind = DEADLINE
    if m is not None and m.group("response"):
        kind = RESPONSE_TIME
    elif m is not None and m.group("update"):
        kind = INTERVAL
    return [
        Sla(
            kind=kind,
            action=unit.column,
            duration=duration_at(unit.inline, text, found),
            text=collapse(unit.inline.text),
            lines=unit.inline.lines,
            section=unit.outline.anchor,
            context=context,
        )
    ]
