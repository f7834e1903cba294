"""On-call shifts as iCalendar (RFC 5545) feeds that calendar apps subscribe to.

One VEVENT per shift, in UTC (``...Z``) so that no VTIMEZONE is needed and every client
shows the same instants. Its SUMMARY says who is on call in a schedule's feed ("alice
on call (primary)": a calendar grid shows the event's summary, so the names must be in
it) and which schedule in a person's ("On call: primary"). A feed's shifts are whole
(:func:`whole_shifts`): those at the window's edges keep their real start and end,
not the moment of the download. A shift's UID is a hash of its schedule, person and
start: the same shift keeps its UID from one download to the next (a client updates it
in place when its end moves) while a different shift never collides. ``DTSTAMP`` is
passed in, as every clock is (DESIGN principle 1), so the output is a pure function of
the input.

Text follows RFC 5545 section 3: CRLF line ends, content lines folded at 75 octets
(never inside a multi-byte UTF-8 character; a continuation starts with one space that
counts toward its 75), and ``\\``, ``;``, ``,`` and newlines escaped in TEXT values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tocsin.oncall.schedules import Shift, shift_at

__all__ = ["PRODID", "person_ics", "schedule_ics", "shift_uid", "whole_shifts"]

PRODID = "-//Tocsin//On-call schedules//EN"
_LIMIT = 75  # octets per physical line, CRLF excluded
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TICK = timedelta(microseconds=1)  # the last instant of [start, end) is end - _TICK

_Summary = Callable[[str, Shift], str]  # (schedule, shift) -> an event's SUMMARY


def schedule_ics(name: str, shifts: Iterable[Shift], *, dtstamp: datetime) -> str:
    """The calendar of schedule ``name``: everyone's shifts."""
    events = [(name, s) for s in shifts]
    return _calendar(f"On call: {name}", events, dtstamp, _whose)


def person_ics(
    person: str, shifts_by_schedule: Mapping[str, Iterable[Shift]], *, dtstamp: datetime
) -> str:
    """The calendar of one ``person``: their shifts, across schedules (the shifts of
    other people in ``shifts_by_schedule`` are left out, so callers may pass whole
    schedule timelines)."""
    events = [
        (schedule, s)
        for schedule, shifts in shifts_by_schedule.items()
        for s in shifts
        if s.person == person
    ]
    return _calendar(f"On call: {person}", events, dtstamp, _which)


def whole_shifts(
    timeline: Callable[[datetime, datetime], Sequence[Shift]], start: datetime, end: datetime
) -> list[Shift]:
    """The shifts that overlap [``start``, ``end``), each whole: ``timeline`` (shifts
    over a range, cut to it) cuts the first and last at the range's edges, so they are
    asked again of :func:`shift_at`, from their real start to their real end. A feed's
    window moves with every download; its events must not (nor, with their starts,
    their UIDs). A shift longer than ``shift_at`` looks (a year each side) stays cut
    there."""
    found = list(timeline(start, end))
    if not found:
        return found
    first, last = found[0], found[-1]
    if first.start <= start:
        first = next(iter(shift_at(timeline, start)), first)
    if last.end >= end:
        last = next(iter(shift_at(timeline, end - _TICK)), last)
    if len(found) == 1:  # one shift over the range: one edge found its start, one its end
        return [replace(first, end=max(first.end, last.end))]
    return [first, *found[1:-1], last]


def _whose(schedule: str, shift: Shift) -> str:
    return f"{shift.person} on call ({schedule})"


def _which(schedule: str, shift: Shift) -> str:
    return f"On call: {schedule}"  # the feed is the person's own: the schedule is news


def shift_uid(schedule: str, shift: Shift) -> str:
    """A UID that stays the same for the same schedule, person and start."""
    key = "\x1f".join((schedule, shift.person, _utc(shift.start)))
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@tocsin"


def _calendar(
    title: str, events: list[tuple[str, Shift]], dtstamp: datetime, summary: _Summary
) -> str:
    if dtstamp.tzinfo is None:
        raise ValueError("dtstamp must be a timezone-aware datetime")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(title)}",
    ]
    stamp = _utc(dtstamp)
    for schedule, shift in sorted(events, key=lambda e: (e[1].start, e[0], e[1].person)):
        origin = "override" if shift.source == "override" else f"layer {shift.layer}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{shift_uid(schedule, shift)}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(shift.start)}",
            f"DTEND:{_utc(shift.end)}",
            f"SUMMARY:{_text(summary(schedule, shift))}",
            f"DESCRIPTION:{_text(f'{shift.person} ({origin})')}",
            "TRANSP:TRANSPARENT",  # being on call does not make anyone busy
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _utc(value: datetime) -> str:
    """A DATE-TIME in UTC form; seconds are the finest RFC 5545 allows."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """Escape a TEXT value; other control characters are not allowed in it at all."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub("", value)


def _fold(line: str) -> str:
    """Split ``line`` into physical lines of at most 75 octets, whole characters only."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode())
        if size + width > _LIMIT:
            parts.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n".join(parts)
