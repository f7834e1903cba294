"""Time intervals: when a route is muted (``mute_time_intervals``) or active.

Pure values and one question, "does this instant fall inside?", answered the way
Alertmanager's ``timeinterval`` package answers it:

* every non-empty field of an interval must match, and a field matches when any of its
  ranges does; an absent field matches everything, an explicitly empty list nothing;
* ``times`` include the start minute and exclude the end minute (``17:00``-``24:00``);
* weekdays run Sunday (0) to Saturday (6); ranges such as ``monday:friday`` are
  inclusive at both ends;
* ``days_of_month`` may count from the end of the month (``-1`` is the last day), and a
  range that runs past the month end is clamped to it;
* months are names or numbers, years plain numbers, both in inclusive ranges;
* the instant is converted to ``location`` (an IANA zone, ``UTC`` or ``Local``) first,
  and to UTC when no location is given.

The parsers here take the strings of the configuration file and raise ``ValueError``
with Alertmanager's wording; the configuration loader turns those into problems that
name a file and line.
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "InclusiveRange",
    "Location",
    "TimeInterval",
    "TimeRange",
    "any_active",
    "contains",
    "load_location",
    "muted_at",
    "parse_day_of_month_range",
    "parse_month_range",
    "parse_time_range",
    "parse_weekday_range",
    "parse_year_range",
]

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Minutes of the day, ``start_minute`` included and ``end_minute`` excluded."""

    start_minute: int
    end_minute: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


@dataclass(frozen=True, slots=True)
class InclusiveRange:
    """``begin`` to ``end`` inclusive (weekdays 0-6, days of month, months 1-12, years)."""

    begin: int
    end: int

    def includes(self, value: int) -> bool:
        return self.begin <= value <= self.end


@dataclass(frozen=True, slots=True)
class Location:
    """A named time zone; equal by name so intervals compare and hash predictably."""

    name: str
    tz: tzinfo = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One ``time_interval_spec``; ``None`` means the field was not given."""

    times: tuple[TimeRange, ...] | None = None
    weekdays: tuple[InclusiveRange, ...] | None = None
    days_of_month: tuple[InclusiveRange, ...] | None = None
    months: tuple[InclusiveRange, ...] | None = None
    years: tuple[InclusiveRange, ...] | None = None
    location: Location | None = None


def contains(interval: TimeInterval, t: datetime) -> bool:
    """Whether instant ``t`` falls inside ``interval`` (a naive ``t`` is read as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t = t.astimezone(interval.location.tz if interval.location is not None else UTC)
    if interval.times is not None:
        minute = t.hour * 60 + t.minute
        if not any(r.start_minute <= minute < r.end_minute for r in interval.times):
            return False
    if interval.days_of_month is not None and not any(
        _day_of_month_matches(r, t) for r in interval.days_of_month
    ):
        return False
    if interval.months is not None and not any(r.includes(t.month) for r in interval.months):
        return False
    if interval.weekdays is not None:
        weekday = (t.weekday() + 1) % 7  # Python counts from Monday, the config from Sunday
        if not any(r.includes(weekday) for r in interval.weekdays):
            return False
    return interval.years is None or any(r.includes(t.year) for r in interval.years)


def any_active(intervals: Iterable[TimeInterval], t: datetime) -> bool:
    """Whether ``t`` falls inside at least one of ``intervals``."""
    return any(contains(i, t) for i in intervals)


def muted_at(
    mute: Sequence[str],
    active: Sequence[str],
    intervals: Mapping[str, Sequence[TimeInterval]],
    t: datetime,
) -> bool:
    """Whether a route with these interval names sends nothing at ``t``.

    A route is muted while any of its ``mute_time_intervals`` is active, and, when it
    lists ``active_time_intervals``, while none of those is. Unknown names count as
    never active (the configuration loader rejects them).
    """
    if any(any_active(intervals.get(name, ()), t) for name in mute):
        return True
    return bool(active) and not any(any_active(intervals.get(name, ()), t) for name in active)


def _day_of_month_matches(r: InclusiveRange, t: datetime) -> bool:
    days = calendar.monthrange(t.year, t.month)[1]
    begin = days + r.begin + 1 if r.begin < 0 else r.begin
    end = days + r.end + 1 if r.end < 0 else r.end
    if begin > days:  # a range starting after this month's last day never matches
        return False
    begin = _clamp(begin, -days, days)
    end = _clamp(end, -days, days)
    return begin <= t.day <= end


def _clamp(n: int, low: int, high: int) -> int:
    return max(low, min(high, n))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# --- parsing the configuration strings ------------------------------------------------

_TIME = re.compile(r"^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")
_INT = re.compile(r"^[+-]?[0-9]+$")


def parse_time(text: str) -> int:
    """``HH:MM`` (``00:00`` to ``24:00``) to minutes since midnight."""
    if not _TIME.match(text):
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_time_range(start: str, end: str) -> TimeRange:
    if start == "" or end == "":
        raise ValueError("both start and end times must be provided")
    begin, finish = parse_time(start), parse_time(end)
    if begin >= finish:
        raise ValueError("start time cannot be equal or greater than end time")
    return TimeRange(begin, finish)


def _atoi(text: str, what: str) -> int:
    if not _INT.match(text):
        raise ValueError(f"{text} is not a valid {what}")
    return int(text)


def _split_range(text: str) -> tuple[str, str]:
    text = text.lower()
    if ":" not in text:
        return text, text
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"couldn't parse range {text}, invalid format")
    return parts[0], parts[1]


def parse_weekday_range(text: str) -> InclusiveRange:
    """``monday``, ``monday:friday`` (names only, case-insensitive)."""
    first, last = _split_range(text)
    days = []
    for name in (first, last):
        if name not in WEEKDAYS:
            raise ValueError(f"{name} is not a valid weekday")
        days.append(WEEKDAYS.index(name))
    if days[0] > days[1]:
        raise ValueError("start day cannot be before end day")
    return InclusiveRange(days[0], days[1])


def parse_day_of_month_range(text: str) -> InclusiveRange:
    """``1``, ``1:15``, ``-3:-1`` (negative days count back from the month end)."""
    first, last = _split_range(text)
    begin, end = _atoi(first, "day of the month"), _atoi(last, "day of the month")
    for day in (begin, end):
        if day == 0 or day < -31 or day > 31:
            raise ValueError(f"{day} is not a valid day of the month: out of range")
    if begin < 0 < end:
        raise ValueError("end day must be negative if start day is negative")
    # Only ranges that are wrong in every month can be caught here: use the shortest.
    check_begin = 28 + begin if begin < 0 else begin
    check_end = 28 + end if end < 0 else end
    if check_begin > check_end:
        raise ValueError(f"end day {end} is always before start day {begin}")
    return InclusiveRange(begin, end)


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    if not _INT.match(text):
        raise ValueError(f"{text} is not a valid month")
    number = int(text)
    if not 1 <= number <= 12:
        raise ValueError(f"{text} is not a valid month: out of range")
    return number


def parse_month_range(text: str) -> InclusiveRange:
    """``may``, ``1:3``, ``may:august`` (names case-insensitive, January = 1)."""
    first, last = _split_range(text)
    begin, end = _month(first), _month(last)
    if begin > end:
        raise ValueError(f"end month {MONTHS[end - 1]} is before start month {MONTHS[begin - 1]}")
    return InclusiveRange(begin, end)


def parse_year_range(text: str) -> InclusiveRange:
    """``2024``, ``2020:2022``."""
    first, last = _split_range(text)
    begin, end = _atoi(first, "year"), _atoi(last, "year")
    if begin > end:
        raise ValueError(f"end year {end} is before start year {begin}")
    return InclusiveRange(begin, end)


def load_location(name: str) -> Location:
    """An IANA zone name, ``UTC`` or ``Local`` (this machine's zone)."""
    if name in ("", "UTC"):
        return Location(name or "UTC", UTC)
    if name == "Local":
        return Location(name, _local_zone())
    try:
        return Location(name, ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name}") from None


def _local_zone() -> tzinfo:
    tz_name = os.environ.get("TZ", "").lstrip(":")
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    localtime = Path("/etc/localtime")
    if localtime.exists():
        with localtime.open("rb") as fh:
            return ZoneInfo.from_file(fh, key="Local")
    return UTC
