"""Time intervals, one row per rule of Alertmanager's docs (``<time_interval_spec>``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tocsin.alerts.timeintervals import (
    InclusiveRange,
    TimeInterval,
    TimeRange,
    any_active,
    contains,
    load_location,
    muted_at,
    parse_day_of_month_range,
    parse_month_range,
    parse_time_range,
    parse_weekday_range,
    parse_year_range,
)
from tocsin.config import parse_config


def interval(spec: str) -> TimeInterval:
    """Build an interval through the configuration loader, as users write it."""
    config = parse_config(
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        f"time_intervals:\n  - name: t\n    time_intervals:\n      - {spec}\n"
    )
    (result,) = config.named_time_intervals()["t"]
    return result


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


CASES: list[tuple[str, str, datetime, bool]] = [
    # times: "inclusive of the starting time and exclusive of the end time"
    (
        "times-start-inclusive",
        "times: [{start_time: '17:00', end_time: '24:00'}]",
        utc(2024, 3, 1, 17, 0),
        True,
    ),
    (
        "times-before-start",
        "times: [{start_time: '17:00', end_time: '24:00'}]",
        utc(2024, 3, 1, 16, 59),
        False,
    ),
    (
        "times-last-minute",
        "times: [{start_time: '17:00', end_time: '24:00'}]",
        utc(2024, 3, 1, 23, 59),
        True,
    ),
    (
        "times-end-exclusive",
        "times: [{start_time: '09:00', end_time: '17:00'}]",
        utc(2024, 3, 1, 17, 0),
        False,
    ),
    # "Within each non-empty list, at least one element must be satisfied"
    (
        "times-any-range",
        "times: [{start_time: '01:00', end_time: '02:00'}, "
        "{start_time: '10:00', end_time: '11:00'}]",
        utc(2024, 3, 1, 10, 30),
        True,
    ),
    # weekday_range: "ranges [...] of the form <start_day>:<end_day> and are inclusive on both ends"
    ("weekday-range-end-inclusive", "weekdays: ['monday:friday']", utc(2024, 3, 1), True),  # Friday
    (
        "weekday-range-excludes-weekend",
        "weekdays: ['monday:friday']",
        utc(2024, 3, 2),
        False,
    ),  # Sat
    # "the week begins on Sunday and ends on Saturday"
    ("weekday-sunday", "weekdays: ['sunday']", utc(2024, 3, 3), True),
    ("weekday-list", "weekdays: ['monday:wednesday', 'saturday', 'sunday']", utc(2024, 3, 2), True),
    # names are case-insensitive
    ("weekday-case", "weekdays: ['Friday']", utc(2024, 3, 1), True),
    # days_of_month: "Days begin at 1", ranges inclusive
    ("days-of-month-range", "days_of_month: ['1:5']", utc(2024, 3, 5), True),
    ("days-of-month-outside", "days_of_month: ['1:5']", utc(2024, 3, 6), False),
    # "-1 during January would represent January 31"
    ("days-of-month-negative-january", "days_of_month: ['-1']", utc(2024, 1, 31), True),
    ("days-of-month-negative-not-30th", "days_of_month: ['-1']", utc(2024, 1, 30), False),
    # negative days follow the month's length, leap years included
    ("days-of-month-negative-leap-february", "days_of_month: ['-1']", utc(2024, 2, 29), True),
    ("days-of-month-negative-february", "days_of_month: ['-1']", utc(2023, 2, 28), True),
    ("days-of-month-negative-range", "days_of_month: ['-3:-1']", utc(2023, 2, 26), True),
    ("days-of-month-negative-range-before", "days_of_month: ['-3:-1']", utc(2023, 2, 25), False),
    # "specifying ['1:31'] during February will clamp the actual end date to 28 or 29"
    ("days-of-month-clamped", "days_of_month: ['1:31']", utc(2023, 2, 28), True),
    # a range starting after the end of this month never matches in it
    ("days-of-month-past-month-end", "days_of_month: ['30:31']", utc(2023, 2, 28), False),
    # month_range: by name (case-insensitive) or number, ranges inclusive
    ("months-name-range", "months: ['may:august']", utc(2024, 8, 31), True),
    ("months-name-range-outside", "months: ['may:august']", utc(2024, 9, 1), False),
    ("months-number-range", "months: ['1:3']", utc(2024, 3, 15), True),
    ("months-name-case", "months: ['December']", utc(2024, 12, 24), True),
    # year_range: inclusive on both ends
    ("years-range", "years: ['2020:2022']", utc(2022, 12, 31, 23, 59), True),
    ("years-range-outside", "years: ['2020:2022']", utc(2023, 1, 1), False),
    ("years-single", "years: ['2030']", utc(2030, 6, 1), True),
    # "For an instant of time to match a complete time interval, all fields must match"
    (
        "all-fields-must-match",
        "{weekdays: ['saturday', 'sunday'], times: [{start_time: '10:00', end_time: '12:00'}]}",
        utc(2024, 3, 2, 13, 0),
        False,
    ),
    (
        "all-fields-match",
        "{weekdays: ['saturday', 'sunday'], times: [{start_time: '10:00', end_time: '12:00'}]}",
        utc(2024, 3, 2, 11, 0),
        True,
    ),
    # "If a field is left unspecified, any value will match the field"
    ("no-fields", "{}", utc(1999, 12, 31, 23, 59), True),
    # an explicitly empty list matches nothing (Go's ContainsTime checks for nil)
    ("empty-list", "weekdays: []", utc(2024, 3, 1), False),
    # location: "The location provides the time zone for the time interval"
    # 23:30 UTC on a June Sunday is 09:30 Monday in Sydney (UTC+10)
    (
        "location-sydney",
        "{location: 'Australia/Sydney', weekdays: ['monday:friday'], "
        "times: [{start_time: '09:00', end_time: '17:00'}]}",
        utc(2024, 6, 2, 23, 30),
        True,
    ),
    (
        "location-sydney-outside",
        "{location: 'Australia/Sydney', weekdays: ['monday:friday'], "
        "times: [{start_time: '09:00', end_time: '17:00'}]}",
        utc(2024, 6, 3, 7, 0),  # 17:00 in Sydney: end excluded
        False,
    ),
    # daylight saving time follows the zone: 07:30 UTC is 09:30 in Berlin in summer
    (
        "location-dst-summer",
        "{location: 'Europe/Berlin', times: [{start_time: '09:00', end_time: '10:00'}]}",
        utc(2024, 7, 1, 7, 30),
        True,
    ),
    (
        "location-dst-winter",
        "{location: 'Europe/Berlin', times: [{start_time: '09:00', end_time: '10:00'}]}",
        utc(2024, 1, 15, 7, 30),  # 08:30 in Berlin in winter
        False,
    ),
    # "If no timezone is provided, the time interval is taken to be in UTC time"
    (
        "no-location-is-utc",
        "times: [{start_time: '09:00', end_time: '10:00'}]",
        datetime(2024, 1, 15, 11, 30, tzinfo=timezone(timedelta(hours=2))),  # 09:30 UTC
        True,
    ),
    # the day of the month is also taken in the interval's zone
    (
        "location-changes-the-date",
        "{location: 'Pacific/Auckland', days_of_month: ['1']}",
        utc(2024, 1, 31, 12, 0),  # already 1 February in Auckland
        True,
    ),
]


@pytest.mark.parametrize(
    ("spec", "instant", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_contains(spec: str, instant: datetime, expected: bool) -> None:
    assert contains(interval(spec), instant) is expected


def test_naive_datetimes_are_utc() -> None:
    spec = interval("times: [{start_time: '09:00', end_time: '10:00'}]")
    assert contains(spec, datetime(2024, 1, 1, 9, 30))
    assert not contains(spec, datetime(2024, 1, 1, 10, 30))


def test_local_and_utc_locations() -> None:
    # docs: 'Local' is the machine's zone, 'UTC' is UTC
    assert load_location("UTC").tz is UTC
    assert load_location("Local").name == "Local"
    with pytest.raises(ValueError, match="unknown time zone"):
        load_location("Nowhere/Special")


def test_any_active() -> None:
    night = interval("times: [{start_time: '00:00', end_time: '06:00'}]")
    weekend = interval("weekdays: [saturday, sunday]")
    assert any_active([night, weekend], utc(2024, 3, 2, 12, 0))  # Saturday noon
    assert any_active([night, weekend], utc(2024, 3, 4, 3, 0))  # Monday night
    assert not any_active([night, weekend], utc(2024, 3, 4, 12, 0))
    assert not any_active([], utc(2024, 3, 4, 12, 0))


@pytest.mark.parametrize(
    ("mute", "active", "instant", "muted"),
    [
        # docs: "Times when the route should be muted"
        (["weekend"], [], utc(2024, 3, 2), True),
        (["weekend"], [], utc(2024, 3, 4), False),
        # docs: "The route will send notifications only when active"
        ([], ["weekend"], utc(2024, 3, 4), True),
        ([], ["weekend"], utc(2024, 3, 2), False),
        # "An empty value means that the route is always active"
        ([], [], utc(2024, 3, 4), False),
        # mute wins over active
        (["weekend"], ["weekend"], utc(2024, 3, 2), True),
    ],
)
def test_muted_at(mute: list[str], active: list[str], instant: datetime, muted: bool) -> None:
    intervals = {"weekend": [interval("weekdays: [saturday, sunday]")]}
    assert muted_at(mute, active, intervals, instant) is muted


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (parse_weekday_range, "monday:friday", InclusiveRange(1, 5)),
        (parse_weekday_range, "SUNDAY", InclusiveRange(0, 0)),
        (parse_day_of_month_range, "-3:-1", InclusiveRange(-3, -1)),
        (parse_day_of_month_range, "1:-1", InclusiveRange(1, -1)),
        (parse_month_range, "may:august", InclusiveRange(5, 8)),
        (parse_month_range, "12", InclusiveRange(12, 12)),
        (parse_year_range, "2020:2022", InclusiveRange(2020, 2022)),
    ],
)
def test_parse_ranges(parse: object, text: str, expected: InclusiveRange) -> None:
    assert parse(text) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_weekday_range, "friday:monday", "start day cannot be before end day"),
        (parse_weekday_range, "1", "is not a valid weekday"),
        (parse_weekday_range, "mon:tue:wed", "invalid format"),
        (parse_day_of_month_range, "32", "out of range"),
        (parse_day_of_month_range, "-32", "out of range"),
        (parse_day_of_month_range, "-1:5", "end day must be negative if start day is negative"),
        (parse_day_of_month_range, "10:-25", "always before start day"),
        (parse_month_range, "august:may", "end month may is before start month august"),
        (parse_month_range, "smarch", "is not a valid month"),
        (parse_year_range, "2022:2020", "end year 2020 is before start year 2022"),
        (parse_year_range, "twenty", "is not a valid year"),
    ],
)
def test_parse_range_errors(parse: object, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("00:00", "24:00", TimeRange(0, 1440)),
        ("09:30", "17:45", TimeRange(570, 1065)),
    ],
)
def test_parse_time_range(start: str, end: str, expected: TimeRange) -> None:
    assert parse_time_range(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("9:00", "10:00", "invalid format"),  # two-digit hours required
        ("24:01", "24:00", "invalid format"),
        ("10:00", "10:00", "start time cannot be equal or greater than end time"),
        ("", "10:00", "both start and end times must be provided"),
    ],
)
def test_parse_time_range_errors(start: str, end: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_range(start, end)
