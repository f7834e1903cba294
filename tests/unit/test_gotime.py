"""Go's time formatting: one row per element of Go's reference layout, then properties.

The reference time is Mon Jan 2 15:04:05 MST 2006; each row formats a chosen time with
one layout and expects what Go's ``Time.Format`` writes (``time/format.go``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.notify.gofmt import go_float
from tocsin.notify.gotime import (
    GO_ZERO_TIME,
    RFC3339NANO,
    duration_string,
    go_format,
    time_string,
)

# Tuesday 2024-07-09 at 14:05:06.789012, 191st day of the year, in three zones.
T = datetime(2024, 7, 9, 14, 5, 6, 789012, tzinfo=UTC)
PARIS = T.astimezone(ZoneInfo("Europe/Paris"))  # CEST, +02:00
FIXED = T.astimezone(timezone(-timedelta(hours=3, minutes=30)))  # unnamed: Go prints -0330
EARLY = datetime(2024, 1, 5, 0, 7, 8, tzinfo=UTC)  # single digits, midnight

LAYOUTS = [
    pytest.param(T, "2006", "2024", id="year"),
    pytest.param(T, "06", "24", id="two-digit-year"),
    pytest.param(T, "01 1 Jan January", "07 7 Jul July", id="month"),
    pytest.param(T, "02 2 _2", "09 9  9", id="day"),
    pytest.param(EARLY, "_2|__2|002", " 5|  5|005", id="padded-day-and-year-day"),
    pytest.param(T, "002 __2", "191 191", id="year-day"),
    pytest.param(T, "Mon Monday", "Tue Tuesday", id="weekday"),
    pytest.param(T, "15 03 3 PM pm", "14 02 2 PM pm", id="hour"),
    pytest.param(EARLY, "15 03 3 PM pm", "00 12 12 AM am", id="midnight-is-12AM"),
    pytest.param(EARLY, "04 4 05 5", "07 7 08 8", id="minute-second"),
    pytest.param(
        T,
        "05.000|05.000000|05.999|05.9|05,000",
        "06.789|06.789012|06.789|06.7|06,789",
        id="fractions",
    ),
    pytest.param(EARLY, "05.000|05.999|.9", "08.000|08|", id="fraction-nines-trim"),
    pytest.param(T, "05.000000000", "06.789012000", id="nine-fraction-digits"),
    # only a run of zeros (or nines) that ends the digits is a fraction: here ".0000000"
    # is text and "01" the month
    pytest.param(T, "05.0000000001", "06.0000000007", id="fraction-only-when-digits-end"),
    pytest.param(T, "MST -0700 -07:00 -07 Z07:00 Z0700", "UTC +0000 +00:00 +00 Z Z", id="zone-utc"),
    pytest.param(
        PARIS, "MST -0700 -07:00 -07 Z07:00", "CEST +0200 +02:00 +02 +02:00", id="zone-named"
    ),
    pytest.param(
        FIXED,
        "MST -0700 Z07:00 -070000 -07:00:00",
        "-0330 -0330 -03:30 -033000 -03:30:00",
        id="zone-unnamed",
    ),
    pytest.param(T, "Janet Month Mon.", "Janet Month Tue.", id="words-that-are-not-elements"),
    pytest.param(T, "_2006 1.5", "_2024 7.6", id="literal-underscore-and-dot"),
    pytest.param(T, "2006-01-02 15:04:05", "2024-07-09 14:05:06", id="common"),
    pytest.param(T, RFC3339NANO, "2024-07-09T14:05:06.789012Z", id="RFC3339Nano"),
    pytest.param(
        T, "Mon, 02 Jan 2006 15:04:05 -0700", "Tue, 09 Jul 2024 14:05:06 +0000", id="RFC1123Z"
    ),
    pytest.param(T, "3:04PM", "2:05PM", id="Kitchen"),
]


@pytest.mark.parametrize(("when", "layout", "expected"), LAYOUTS)
def test_layouts_format_as_go(when: datetime, layout: str, expected: str) -> None:
    assert go_format(when, layout) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        pytest.param(GO_ZERO_TIME, "0001-01-01 00:00:00 +0000 UTC", id="zero"),
        pytest.param(T, "2024-07-09 14:05:06.789012 +0000 UTC", id="fraction-trimmed"),
        pytest.param(EARLY, "2024-01-05 00:07:08 +0000 UTC", id="whole-second"),
        pytest.param(PARIS, "2024-07-09 16:05:06.789012 +0200 CEST", id="named-zone"),
        pytest.param(FIXED, "2024-07-09 10:35:06.789012 -0330 -0330", id="unnamed-zone"),
        pytest.param(datetime(2024, 1, 1), "2024-01-01 00:00:00 +0000 UTC", id="naive-is-utc"),
    ],
)
def test_time_string(when: datetime, expected: str) -> None:
    assert time_string(when) == expected


@pytest.mark.parametrize(
    ("nanos", "expected"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (1_500_000, "1.5ms"),
        (1_000_000_000, "1s"),
        (61_500_000_000, "1m1.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (-90_000_000_000, "-1m30s"),
        (100 * 3_600_000_000_000, "100h0m0s"),
    ],
)
def test_duration_string(nanos: int, expected: str) -> None:
    assert duration_string(nanos) == expected


# --- properties ---------------------------------------------------------------------------

_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=45)), timezone(-timedelta(hours=8))]
)
_TIMES = st.builds(
    lambda when, tz: when.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    _ZONES,
)


@given(_TIMES)
def test_numeric_layout_is_the_components(when: datetime) -> None:
    # Every numeric element is its component, zero-padded to the element's width.
    offset = int((when.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if offset < 0 else "+"
    expected = (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:"
        f"{when.second:02d}.{when.microsecond:06d} {sign}{abs(offset) // 60:02d}"
        f"{abs(offset) % 60:02d}"
    )
    assert go_format(when, "2006-01-02T15:04:05.000000 -0700") == expected


@given(_TIMES)
def test_names_and_twelve_hour_clock(when: datetime) -> None:
    text = go_format(when, "Monday January 3 PM")
    day, month, hour, half = text.split()
    assert day == when.strftime("%A")
    assert month == when.strftime("%B")
    assert int(hour) == (when.hour % 12 or 12)
    assert half == ("PM" if when.hour >= 12 else "AM")


@given(_TIMES)
def test_rfc3339nano_reads_back(when: datetime) -> None:
    text = go_format(when, RFC3339NANO)
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == when


_UNITS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000}
_UNITS |= {"ms": 1_000_000, "µs": 1_000, "ns": 1}


@given(st.integers(min_value=-(10**15), max_value=10**15).map(lambda n: n - n % 1000))
def test_duration_string_reads_back(nanos: int) -> None:
    # What Go's time.ParseDuration reads from Duration.String is the duration again.
    text = duration_string(nanos)
    sign = -1 if text.startswith("-") else 1
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(h|ms|µs|ns|m|s)", text):
        total += float(number) * _UNITS[unit]
    assert round(sign * total) == nanos


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_reads_back_and_uses_exponents_as_go(value: float) -> None:
    text = go_float(value)
    assert float(text) == value
    if value:
        # Go's shortest %v: an exponent when it is below -4 or at least 6 (not 21)
        assert ("e" in text) == (abs(value) < 1e-4 or abs(value) >= 1e6)
