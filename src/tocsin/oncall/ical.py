"""On-call shifts as iCalendar (RFC 5545) feeds that calendar apps subscribe to.

One VEVENT per shift, in UTC (``...Z``) so that no VTIMEZONE is needed and every client
shows the same instants. A shift's UID is a hash of its schedule, person and start: the
same shift keeps its UID from one download to the next (a client updates it in place
when its end moves) while a different shift never collides. ``DTSTAMP`` is passed in,
as every clock is (DESIGN principle 1), so the output is a pure function of the input.

Text follows RFC 5545 section 3: CRLF line ends, content lines folded at 75 octets
(never inside a multi-byte UTF-8 character; a continuation starts with one space that
counts toward its 75), and ``\\``, ``;``, ``,`` and newlines escaped in TEXT values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from tocsin.oncall.schedules import Shift

__all__ = ["PRODID", "person_ics", "schedule_ics", "shift_uid"]

PRODID = "-//Tocsin//On-call schedules//EN"
_LIMIT = 75  # octets per physical line, CRLF excluded
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def schedule_ics(name: str, shifts: Iterable[Shift], *, dtstamp: datetime) -> str:
    """The calendar of schedule ``name``: everyone's shifts."""
    events = [(name, s) for s in shifts]
    return _calendar(f"On call: {name}", events, dtstamp)


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
    return _calendar(f"On call: {person}", events, dtstamp)


def shift_uid(schedule: str, shift: Shift) -> str:
    """A UID that stays the same for the same schedule, person and start."""
    key = "\x1f".join((schedule, shift.person, _utc(shift.start)))
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@tocsin"


def _calendar(title: str, events: list[tuple[str, Shift]], dtstamp: datetime) -> str:
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
            f"SUMMARY:{_text(f'On call: {schedule}')}",
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
