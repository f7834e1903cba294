"""Go's ``time.Time`` and ``time.Duration`` as Alertmanager templates see them.

Alert times reach templates as :class:`~datetime.datetime` and durations (``since``,
``.Sub``) as :class:`~datetime.timedelta`; this module gives them Go's behaviour:

* :func:`go_format` is ``Time.Format`` with Go's reference layouts (``2006-01-02``,
  ``15:04:05``, ``Jan``, ``Monday``, ``PM``, ``MST``, ``-0700``, ``Z07:00``, ``.000``,
  ``.999``, ``_2``, ``002``, ...), read exactly as Go's ``nextStdChunk`` reads them;
* :func:`time_string` and :func:`duration_string` are ``Time.String`` and
  ``Duration.String`` (what ``{{ .StartsAt }}`` and ``{{ since .StartsAt }}`` print);
  the zero time prints as ``0001-01-01 00:00:00 +0000 UTC``;
* :data:`TIME_METHODS` and :data:`DURATION_METHODS` are the methods a template may call
  (``.StartsAt.Unix``, ``.StartsAt.UTC.Format "15:04"``, ``(since .StartsAt).Minutes``).

Python's datetime has microseconds, Go's nanoseconds: nanosecond fields are the
microseconds times 1000. A naive datetime is taken as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "DURATION_METHODS",
    "GO_ZERO_TIME",
    "MULTI_RESULT_METHODS",
    "RFC3339NANO",
    "TIME_METHODS",
    "GoMonth",
    "GoWeekday",
    "duration_ns",
    "duration_string",
    "go_format",
    "location_name",
    "time_string",
]

GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RFC3339NANO = "2006-01-02T15:04:05.999999999Z07:00"
_STRING_LAYOUT = "2006-01-02 15:04:05.999999999 -0700 MST"

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


class GoMonth(int):
    """Go's ``time.Month``: a number (``eq .StartsAt.Month 3``) that prints its name."""

    def __str__(self) -> str:
        return _MONTHS[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class GoWeekday(int):
    """Go's ``time.Weekday`` (Sunday is 0): a number that prints its name."""

    def __str__(self) -> str:
        return _WEEKDAYS[self] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


# --- layouts --------------------------------------------------------------------------

# One chunk of a parsed layout: literal text, or a std element with its argument (the
# digits and separator of a fractional second).
_Chunk = tuple[str, str, int]


def _starts_lower(text: str) -> bool:
    return bool(text) and "a" <= text[0] <= "z"


def _is_digit(text: str, i: int) -> bool:
    return i < len(text) and "0" <= text[i] <= "9"


_STD0X = ("zero_month", "zero_day", "zero_hour12", "zero_minute", "zero_second", "year2")
_TZ_DASH = (
    ("-070000", "num_seconds_tz"),
    ("-07:00:00", "num_colon_seconds_tz"),
    ("-0700", "num_tz"),
    ("-07:00", "num_colon_tz"),
    ("-07", "num_short_tz"),
)
_TZ_Z = (
    ("Z070000", "iso_seconds_tz"),
    ("Z07:00:00", "iso_colon_seconds_tz"),
    ("Z0700", "iso_tz"),
    ("Z07:00", "iso_colon_tz"),
    ("Z07", "iso_short_tz"),
)


def _next_std(layout: str) -> tuple[str, str, int, str]:
    """Go's ``nextStdChunk``: (prefix, std name or "", argument, rest of the layout)."""
    n = len(layout)
    for i, c in enumerate(layout):
        rest = layout[i:]
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], "long_month", 0, layout[i + 7 :]
            if not _starts_lower(layout[i + 3 :]):
                return layout[:i], "month", 0, layout[i + 3 :]
        elif c == "M" and n >= i + 3:
            if rest.startswith("Mon"):
                if rest.startswith("Monday"):
                    return layout[:i], "long_weekday", 0, layout[i + 6 :]
                if not _starts_lower(layout[i + 3 :]):
                    return layout[:i], "weekday", 0, layout[i + 3 :]
            if rest.startswith("MST"):
                return layout[:i], "tz", 0, layout[i + 3 :]
        elif c == "0":
            if n >= i + 2 and "1" <= layout[i + 1] <= "6":
                return layout[:i], _STD0X[ord(layout[i + 1]) - ord("1")], 0, layout[i + 2 :]
            if rest.startswith("002"):
                return layout[:i], "zero_yday", 0, layout[i + 3 :]
        elif c == "1":
            if rest.startswith("15"):
                return layout[:i], "hour", 0, layout[i + 2 :]
            return layout[:i], "num_month", 0, layout[i + 1 :]
        elif c == "2":
            if rest.startswith("2006"):
                return layout[:i], "year4", 0, layout[i + 4 :]
            return layout[:i], "day", 0, layout[i + 1 :]
        elif c == "_":
            if rest.startswith("_2"):
                if rest.startswith("_2006"):  # a literal "_", then the year
                    return layout[: i + 1], "year4", 0, layout[i + 5 :]
                return layout[:i], "under_day", 0, layout[i + 2 :]
            if rest.startswith("__2"):
                return layout[:i], "under_yday", 0, layout[i + 3 :]
        elif c in "345":
            std = {"3": "hour12", "4": "minute", "5": "second"}[c]
            return layout[:i], std, 0, layout[i + 1 :]
        elif c == "P" and rest.startswith("PM"):
            return layout[:i], "PM", 0, layout[i + 2 :]
        elif c == "p" and rest.startswith("pm"):
            return layout[:i], "pm", 0, layout[i + 2 :]
        elif c in "-Z":
            for text, std in _TZ_DASH if c == "-" else _TZ_Z:
                if rest.startswith(text):
                    return layout[:i], std, 0, layout[i + len(text) :]
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            digit = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == digit:
                j += 1
            if not _is_digit(layout, j):  # only a fraction when the digits end here
                std = ("frac0" if digit == "0" else "frac9") + c
                return layout[:i], std, j - (i + 1), layout[j:]
    return layout, "", 0, ""


@lru_cache(maxsize=256)
def _parse_layout(layout: str) -> tuple[_Chunk, ...]:
    chunks: list[_Chunk] = []
    while layout:
        prefix, std, arg, layout = _next_std(layout)
        if prefix:
            chunks.append(("", prefix, 0))
        if not std:
            break
        chunks.append((std, "", arg))
    return tuple(chunks)


def _int(value: int, width: int) -> str:
    """Go's ``appendInt``: decimal, zero-padded to ``width`` digits after any sign."""
    if value < 0:
        return "-" + str(-value).zfill(width)
    return str(value).zfill(width)


_UNNAMED_ZONE = re.compile(r"UTC[+-]\d\d:\d\d(?::\d\d(?:\.\d+)?)?")


def _aware(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected time.Time, got {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _zone(value: datetime) -> tuple[str, int]:
    """The zone's abbreviation ("" for an unnamed fixed offset, as Go's) and offset."""
    offset = value.utcoffset() or timedelta(0)
    name = value.tzname() or ""
    if _UNNAMED_ZONE.fullmatch(name):
        name = ""  # Python's name for timezone(offset); Go's FixedZone("", offset) has none
    return name, int(offset.total_seconds())


def _tz_text(std: str, offset: int) -> str:
    if offset == 0 and std.startswith("iso"):
        return "Z"
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    minutes = offset // 60
    text = sign + _int(minutes // 60, 2)
    colon = "colon" in std
    if colon:
        text += ":"
    if "short" not in std:
        text += _int(minutes % 60, 2)
    if "seconds" in std:
        text += (":" if colon else "") + _int(offset % 60, 2)
    return text


def _nano(nanos: int, std: str, digits: int) -> str:
    trim = std.startswith("frac9")
    separator = std[-1]
    if trim and (digits == 0 or nanos == 0):
        return ""
    text = _int(nanos, 9)[:digits] if digits < 9 else _int(nanos, 9)
    if trim:
        text = text.rstrip("0")
        return separator + text if text else ""
    return separator + text


def go_format(value: datetime, layout: str) -> str:
    """``value.Format(layout)`` with Go's reference layout (Mon Jan 2 15:04:05 MST 2006)."""
    if not isinstance(layout, str):
        raise TypeError(f"expected string, got {type(layout).__name__}")
    value = _aware(value)
    name, offset = _zone(value)
    hour = value.hour
    out: list[str] = []
    for std, text, arg in _parse_layout(layout):
        if not std:
            out.append(text)
        elif std == "year2":
            out.append(_int(abs(value.year) % 100, 2))
        elif std == "year4":
            out.append(_int(value.year, 4))
        elif std == "month":
            out.append(_MONTHS[value.month - 1][:3])
        elif std == "long_month":
            out.append(_MONTHS[value.month - 1])
        elif std in ("num_month", "zero_month"):
            out.append(_int(value.month, 2 if std == "zero_month" else 0))
        elif std in ("weekday", "long_weekday"):
            day = _WEEKDAYS[value.isoweekday() % 7]
            out.append(day if std == "long_weekday" else day[:3])
        elif std in ("day", "zero_day"):
            out.append(_int(value.day, 2 if std == "zero_day" else 0))
        elif std == "under_day":
            out.append(str(value.day).rjust(2))
        elif std == "under_yday":
            out.append(str(value.timetuple().tm_yday).rjust(3))
        elif std == "zero_yday":
            out.append(_int(value.timetuple().tm_yday, 3))
        elif std == "hour":
            out.append(_int(hour, 2))
        elif std in ("hour12", "zero_hour12"):
            out.append(_int(hour % 12 or 12, 2 if std == "zero_hour12" else 0))
        elif std in ("minute", "zero_minute"):
            out.append(_int(value.minute, 2 if std == "zero_minute" else 0))
        elif std in ("second", "zero_second"):
            out.append(_int(value.second, 2 if std == "zero_second" else 0))
        elif std in ("PM", "pm"):
            word = "PM" if hour >= 12 else "AM"
            out.append(word if std == "PM" else word.lower())
        elif std == "tz":
            out.append(name or _tz_text("num_tz", offset))
        elif std.startswith(("num", "iso")):
            out.append(_tz_text(std, offset))
        else:
            out.append(_nano(value.microsecond * 1000, std, arg))
    return "".join(out)


def time_string(value: datetime) -> str:
    """Go's ``Time.String``: ``2006-01-02 15:04:05.999999999 -0700 MST``."""
    return go_format(value, _STRING_LAYOUT)


def location_name(value: datetime) -> str:
    """What Go's ``Time.Location`` prints: ``UTC``, ``Local``, ``Europe/Paris``, ..."""
    tz = _aware(value).tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    if tz is UTC or (isinstance(tz, timezone) and tz.utcoffset(None) == timedelta(0)):
        return "UTC"
    return "Local" if tz == datetime.now().astimezone().tzinfo else ""


# --- durations ------------------------------------------------------------------------

_SECOND = 1_000_000_000


def duration_ns(value: timedelta | int) -> int:
    """A Go Duration (nanoseconds) from a timedelta, or an int already counting them."""
    if isinstance(value, timedelta):
        return (value.days * 86400 + value.seconds) * _SECOND + value.microseconds * 1000
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected time.Duration, got {type(value).__name__}")


def _from_ns(nanos: int) -> timedelta:
    return timedelta(microseconds=nanos / 1000)


def _frac(value: int, precision: int) -> str:
    """Go's ``fmtFrac``: the low ``precision`` digits as a fraction, zeros trimmed."""
    digits = str(value % 10**precision).zfill(precision).rstrip("0")
    return "." + digits if digits else ""


def duration_string(value: timedelta | int) -> str:
    """Go's ``Duration.String``: ``72h3m0.5s``, ``1m0s``, ``1.5ms``, ``0s``."""
    nanos = duration_ns(value)
    sign = "-" if nanos < 0 else ""
    u = abs(nanos)
    if u < _SECOND:
        if u == 0:
            return "0s"
        if u < 1000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{u // 1000}{_frac(u, 3)}µs"
        return f"{sign}{u // 1_000_000}{_frac(u, 6)}ms"
    text = f"{u // _SECOND % 60}{_frac(u, 9)}s"
    minutes = u // _SECOND // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _quo_rem(a: int, b: int) -> tuple[int, int]:
    """Go's integer ``/`` and ``%``: truncated toward zero."""
    q = abs(a) // abs(b)
    q = q if (a >= 0) == (b >= 0) else -q
    return q, a - q * b


def _unit_float(nanos: int, unit: int) -> float:
    whole, rest = _quo_rem(nanos, unit)
    return whole + rest / unit


def _round_ns(nanos: int, m: int) -> int:
    """Go's ``Duration.Round``: halfway values away from zero."""
    if m <= 0:
        return nanos
    _, r = _quo_rem(nanos, m)
    if nanos < 0:
        r = -r
        return nanos + r if r + r < m else nanos - m + r
    return nanos - r if r + r < m else nanos + m - r


def _truncate_ns(nanos: int, m: int) -> int:
    return nanos if m <= 0 else nanos - _quo_rem(nanos, m)[1]


# --- methods --------------------------------------------------------------------------


def _since_zero(value: datetime) -> int:
    return duration_ns(_aware(value) - GO_ZERO_TIME)


def _time_round(value: datetime, d: timedelta | int, *, up: bool) -> datetime:
    m = duration_ns(d)
    if m <= 0:
        return value
    r = _since_zero(value) % m
    if up and r + r >= m:
        return value + _from_ns(m - r)
    return value - _from_ns(r)


def _add_date(value: datetime, years: int, months: int, days: int) -> datetime:
    # Go's Date normalises: Jan 31 plus one month is March 2 or 3.
    total = value.year * 12 + value.month - 1 + years * 12 + months
    first = value.replace(year=total // 12, month=total % 12 + 1, day=1)
    return first + timedelta(days=value.day - 1 + days)


def _unix(value: datetime, unit: int) -> int:
    return (_aware(value) - _EPOCH) // timedelta(microseconds=1) * 1000 // unit


# Methods with the number of arguments each takes; a template calls them as Go does
# (``.StartsAt.Unix``, ``.StartsAt.Format "15:04"``).
TIME_METHODS: Mapping[str, tuple[int, Callable[..., object]]] = {
    "Add": (1, lambda t, d: t + _from_ns(duration_ns(d))),
    "AddDate": (3, _add_date),
    "After": (1, lambda t, u: _aware(t) > _aware(u)),
    "Before": (1, lambda t, u: _aware(t) < _aware(u)),
    "Compare": (1, lambda t, u: (_aware(t) > _aware(u)) - (_aware(t) < _aware(u))),
    "Day": (0, lambda t: t.day),
    "Equal": (1, lambda t, u: _aware(t) == _aware(u)),
    "Format": (1, go_format),
    "Hour": (0, lambda t: t.hour),
    "IsDST": (0, lambda t: bool(t.dst())),
    "IsZero": (0, lambda t: _aware(t) == GO_ZERO_TIME),
    "Local": (0, lambda t: _aware(t).astimezone()),
    "Location": (0, location_name),
    "Minute": (0, lambda t: t.minute),
    "Month": (0, lambda t: GoMonth(t.month)),
    "Nanosecond": (0, lambda t: t.microsecond * 1000),
    "Round": (1, lambda t, d: _time_round(t, d, up=True)),
    "Second": (0, lambda t: t.second),
    "String": (0, time_string),
    "Sub": (1, lambda t, u: _aware(t) - _aware(u)),
    "Truncate": (1, lambda t, d: _time_round(t, d, up=False)),
    "UTC": (0, lambda t: _aware(t).astimezone(UTC)),
    "Unix": (0, lambda t: _unix(t, _SECOND)),
    "UnixMicro": (0, lambda t: _unix(t, 1000)),
    "UnixMilli": (0, lambda t: _unix(t, 1_000_000)),
    "UnixNano": (0, lambda t: _unix(t, 1)),
    "Weekday": (0, lambda t: GoWeekday(t.isoweekday() % 7)),
    "Year": (0, lambda t: t.year),
    "YearDay": (0, lambda t: t.timetuple().tm_yday),
}

DURATION_METHODS: Mapping[str, tuple[int, Callable[..., object]]] = {
    "Abs": (0, lambda d: abs(d)),
    "Hours": (0, lambda d: _unit_float(duration_ns(d), 3600 * _SECOND)),
    "Microseconds": (0, lambda d: _quo_rem(duration_ns(d), 1000)[0]),
    "Milliseconds": (0, lambda d: _quo_rem(duration_ns(d), 1_000_000)[0]),
    "Minutes": (0, lambda d: _unit_float(duration_ns(d), 60 * _SECOND)),
    "Nanoseconds": (0, duration_ns),
    "Round": (1, lambda d, m: _from_ns(_round_ns(duration_ns(d), duration_ns(m)))),
    "Seconds": (0, lambda d: _unit_float(duration_ns(d), _SECOND)),
    "String": (0, duration_string),
    "Truncate": (1, lambda d, m: _from_ns(_truncate_ns(duration_ns(d), duration_ns(m)))),
}

# Methods Go's templates refuse to call: more than one result that is not an error.
MULTI_RESULT_METHODS: Mapping[str, int] = {"Date": 3, "Clock": 3, "Zone": 2, "ISOWeek": 2}
