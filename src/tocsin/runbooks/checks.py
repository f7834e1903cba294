"""Checks written as prose: health endpoints, polls, and threshold rules.

In a "Health Checks" section each item naming a target (`GET /health`, a URL, a path)
is a check. Anywhere else, a statement is a check when it says how often to look
("Poll `GET /api/health/ping` every 30 seconds") or when to alert ("queue length
exceeding 20 jobs for more than 5 minutes", "Alert if two consecutive failures occur").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from tocsin.runbooks.fields import RawField, collapse, field_of
from tocsin.runbooks.markdown import Inline, ListBlock, Paragraph
from tocsin.runbooks.model import Check, Duration, Lines, Threshold
from tocsin.runbooks.quantities import (
    duration_at,
    find_failure_count,
    find_for_duration,
    find_interval,
    find_thresholds,
    threshold_at,
)
from tocsin.runbooks.sections import Outline
from tocsin.runbooks.spans import LineIndex
from tocsin.runbooks.units import Unit
from tocsin.runbooks.vocabulary import CHECK_SECTION

_HTTP = re.compile(r"\b(GET|POST|HEAD|PUT|DELETE|PATCH|OPTIONS)\s+(\S+)")
_URL = re.compile(r"\bhttps?://[^\s)>\]]+")
_HOST_PORT = re.compile(r"\b(?:[a-z0-9-]+\.)*[a-z0-9-]+:\d{2,5}\b", re.IGNORECASE)
_LOOK_VERBS = re.compile(
    r"\b(?:poll|probe|ping|check|curl|hit|query|request|monitor|scrape|run|verify|test)\w*\b",
    re.IGNORECASE,
)
_ALERT_WHEN = re.compile(r"\b(?:alert|page|notify|fire|warn)\w*\s+(?:if|when|on|whenever)\b", re.I)
# the first that matches: a heartbeat names itself, while "the nightly cron job pings"
# also says "job", which would make it a queue check
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("heartbeat", re.compile(r"heartbeat|\bcron\b|dead\s*man", re.I)),
    ("queue", re.compile(r"\bqueues?\b|backlog|\bjobs?\b|\bmessages?\b|\bdepth\b|\blag\b", re.I)),
    ("disk", re.compile(r"\bdisk|storage|\bvolumes?\b|inode|free\s+space", re.I)),
    ("certificate", re.compile(r"\bcert(?:ificate)?s?\b|\btls\b|\bssl\b", re.I)),
    ("database", re.compile(r"\bdatabase|\bdb\b|replication|postgres|mysql|\bsql\b", re.I)),
    ("tcp", re.compile(r"\btcp\b|\bport\s+\d+", re.I)),
)


def _target(inline: Inline) -> tuple[str, str] | None:
    """(kind, target) for what a statement checks, if it names one."""
    text = inline.text
    m = _HTTP.search(text)
    if m:
        return "http", f"{m.group(1)} {m.group(2).strip('`.,;')}"
    m = _URL.search(text)
    if m:
        return "http", m.group().rstrip(".,;")
    for code in inline.codes():
        snippet = code.text.strip()
        if snippet.startswith("/"):
            return "http", snippet.split()[0]
        m = _HOST_PORT.fullmatch(snippet)
        if m:
            return "tcp", snippet
    m = _HOST_PORT.search(inline.masked)
    if m:
        return "tcp", m.group()
    return None


def _kind(text: str) -> str:
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return "metric"


def _quantities(
    inline: Inline,
) -> tuple[Duration | None, int | None, Threshold | None, Duration | None]:
    text = inline.masked
    interval_found = find_interval(text)
    interval = duration_at(inline, text, interval_found) if interval_found else None
    thresholds = find_thresholds(text)
    threshold = threshold_at(inline, text, thresholds[0]) if thresholds else None
    duration_found = find_for_duration(text)
    duration = duration_at(inline, text, duration_found) if duration_found else None
    return interval, find_failure_count(text), threshold, duration


def _qualifies(
    text: str,
    interval: Duration | None,
    failures: int | None,
    threshold: Threshold | None,
    duration: Duration | None,
) -> bool:
    looks = interval is not None and _LOOK_VERBS.search(text) is not None
    alerts = _ALERT_WHEN.search(text) is not None and (
        threshold is not None or failures is not None
    )
    return looks or alerts or (threshold is not None and duration is not None)


def _check(
    inline: Inline, lines: Lines, section: str | None, name: str | None, *, targetless: bool
) -> Check | None:
    """The check one statement describes: a named target, or (if `targetless`) a
    threshold/interval rule about a metric."""
    target = _target(inline)
    interval, failures, threshold, duration = _quantities(inline)
    text = inline.masked
    if target is None and not (
        targetless and _qualifies(text, interval, failures, threshold, duration)
    ):
        return None
    return Check(
        kind=target[0] if target else _kind(text),
        name=name,
        target=target[1] if target else (threshold.metric if threshold else None),
        text=collapse(inline.text),
        lines=lines,
        section=section,
        interval=interval,
        failure_threshold=failures,
        threshold=threshold,
        duration=duration,
    )


def section_checks(outline: Outline) -> list[Check]:
    """Items of a health-check section that name a target or state a rule."""
    if outline.anchor is None or not CHECK_SECTION.search(outline.name):
        return []
    candidates: list[tuple[Inline, Lines]] = []
    for block in outline.body:
        if isinstance(block, ListBlock):
            candidates.extend((item.lead, item.lines) for item in block.items if item.lead)
        elif isinstance(block, Paragraph):
            candidates.append((block.inline, block.lines))
    out: list[Check] = []
    for inline, lines in candidates:
        labelled: RawField | None = field_of(inline)
        name = labelled.key if labelled else None
        check = _check(inline, lines, outline.anchor, name, targetless=True)
        if check is not None:
            out.append(check)
    return out


def _sentences(inline: Inline) -> list[Inline]:
    text = inline.masked
    out = []
    start = 0
    for m in re.finditer(r"[.!?;](?=\s|$)", text):
        out.append(inline.slice(start, m.end()).strip())
        start = m.end()
    if start < len(text):
        out.append(inline.slice(start, len(text)).strip())
    return [s for s in out if s.text.strip()]


def prose_checks(units: Iterable[Unit], skip: Sequence[Lines]) -> list[Check]:
    """Statements outside alert procedures and check sections that say how often to look
    or when to alert. A sentence that only adds a failure count ("Alert if two
    consecutive failures occur") belongs to the check before it."""
    out: list[Check] = []
    skipped = LineIndex(skip)
    for unit in units:
        if unit.kind != "paragraph" or skipped.contains(unit.inline.lines):
            continue
        name = unit.field.key if unit.field is not None else None
        previous: Check | None = None
        for sentence in _sentences(unit.inline):
            text = sentence.masked
            interval, failures, threshold, duration = _quantities(sentence)
            if (
                previous is not None
                and failures is not None
                and interval is None
                and threshold is None
                and _target(sentence) is None
            ):
                previous = replace(
                    previous,
                    failure_threshold=failures,
                    text=f"{previous.text} {collapse(sentence.text)}",
                    lines=(previous.lines[0], max(previous.lines[1], sentence.lines[1])),
                )
                out[-1] = previous
                continue
            if not _qualifies(text, interval, failures, threshold, duration):
                previous = None
                continue
            check = _check(sentence, sentence.lines, unit.outline.anchor, name, targetless=True)
            if check is not None:
                out.append(check)
            previous = check
    return out
