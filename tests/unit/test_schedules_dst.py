"""Schedules across daylight-saving changes, with the exact UTC instants worked out by hand.

Europe/Berlin is UTC+1 (CET) in winter and UTC+2 (CEST) in summer; in 2026 the clocks go
forward on Sunday 29 March at 01:00Z (02:00 -> 03:00) and back on Sunday 25 October at
01:00Z (03:00 -> 02:00). America/New_York is UTC-5 (EST) / UTC-4 (EDT); in 2026 the
clocks go forward on Sunday 8 March at 07:00Z (02:00 -> 03:00) and back on Sunday
1 November at 06:00Z (02:00 -> 01:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.oncall.schedules import (
    Layer,
    Restriction,
    Schedule,
    Shift,
    local_instant,
    on_call,
    shifts,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ABC = ("a", "b", "c")


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def timeline(found: list[Shift]) -> list[tuple[str, datetime, datetime]]:
    return [(s.person, s.start, s.end) for s in found]


def daily(tz: ZoneInfo, start: date, handoff: time) -> Schedule:
    return Schedule("ops", tz, (Layer("daily", ABC, start, "daily", handoff),))


def weekly(tz: ZoneInfo, start: date, handoff: time) -> Schedule:
    return Schedule("ops", tz, (Layer("weekly", ABC, start, "weekly", handoff),))


@pytest.mark.parametrize(
    ("day", "clock", "tz", "expected"),
    [
        (date(2026, 3, 28), 9 * 3600, BERLIN, z(2026, 3, 28, 8)),  # CET
        (date(2026, 3, 29), 9 * 3600, BERLIN, z(2026, 3, 29, 7)),  # CEST
        (date(2026, 3, 29), 2 * 3600 + 1800, BERLIN, z(2026, 3, 29, 1)),  # skipped: 03:00
        (date(2026, 3, 29), 2 * 3600, BERLIN, z(2026, 3, 29, 1)),  # skipped too
        (date(2026, 10, 25), 2 * 3600 + 1800, BERLIN, z(2026, 10, 25, 0, 30)),  # first
        (date(2026, 10, 25), 3 * 3600, BERLIN, z(2026, 10, 25, 2)),  # after the repeat
        (date(2026, 3, 8), 2 * 3600 + 1800, NEW_YORK, z(2026, 3, 8, 7)),  # skipped
        (date(2026, 11, 1), 3600 + 1800, NEW_YORK, z(2026, 11, 1, 5, 30)),  # first
        (date(2026, 11, 1), 86_400, NEW_YORK, z(2026, 11, 2, 5)),  # 24:00 = next midnight
    ],
)
def test_local_instant(day: date, clock: int, tz: ZoneInfo, expected: datetime) -> None:
    assert local_instant(day, clock, tz) == expected


# --- daily handoffs at 09:00 keep the wall clock --------------------------------------------


def test_berlin_spring_forward_daily_0900_makes_a_23_hour_shift() -> None:
    found = shifts(daily(BERLIN, date(2026, 3, 27), time(9)), [], z(2026, 3, 27), z(2026, 3, 31))
    assert timeline(found) == [
        ("a", z(2026, 3, 27, 8), z(2026, 3, 28, 8)),
        ("b", z(2026, 3, 28, 8), z(2026, 3, 29, 7)),
        ("c", z(2026, 3, 29, 7), z(2026, 3, 30, 7)),
        ("a", z(2026, 3, 30, 7), z(2026, 3, 31)),
    ]
    assert found[1].end - found[1].start == timedelta(hours=23)


def test_berlin_fall_back_daily_0900_makes_a_25_hour_shift() -> None:
    found = shifts(daily(BERLIN, date(2026, 10, 23), time(9)), [], z(2026, 10, 23), z(2026, 10, 27))
    assert timeline(found) == [
        ("a", z(2026, 10, 23, 7), z(2026, 10, 24, 7)),
        ("b", z(2026, 10, 24, 7), z(2026, 10, 25, 8)),
        ("c", z(2026, 10, 25, 8), z(2026, 10, 26, 8)),
        ("a", z(2026, 10, 26, 8), z(2026, 10, 27)),
    ]
    assert found[1].end - found[1].start == timedelta(hours=25)


def test_new_york_daily_0900_across_both_changes() -> None:
    spring = shifts(daily(NEW_YORK, date(2026, 3, 7), time(9)), [], z(2026, 3, 7), z(2026, 3, 10))
    assert timeline(spring) == [
        ("a", z(2026, 3, 7, 14), z(2026, 3, 8, 13)),  # 23 hours
        ("b", z(2026, 3, 8, 13), z(2026, 3, 9, 13)),
        ("c", z(2026, 3, 9, 13), z(2026, 3, 10)),
    ]
    fall = shifts(daily(NEW_YORK, date(2026, 10, 31), time(9)), [], z(2026, 10, 31), z(2026, 11, 3))
    assert timeline(fall) == [
        ("a", z(2026, 10, 31, 13), z(2026, 11, 1, 14)),  # 25 hours
        ("b", z(2026, 11, 1, 14), z(2026, 11, 2, 14)),
        ("c", z(2026, 11, 2, 14), z(2026, 11, 3)),
    ]


# --- handoffs in the skipped and the repeated hour ------------------------------------------


def test_berlin_handoff_at_0230_on_spring_forward_day_happens_at_0300() -> None:
    schedule = daily(BERLIN, date(2026, 3, 28), time(2, 30))
    found = shifts(schedule, [], z(2026, 3, 28), z(2026, 3, 31))
    assert timeline(found) == [
        ("a", z(2026, 3, 28, 1, 30), z(2026, 3, 29, 1)),  # 02:30 CET -> 03:00 CEST
        ("b", z(2026, 3, 29, 1), z(2026, 3, 30, 0, 30)),  # 03:00 CEST -> 02:30 CEST
        ("c", z(2026, 3, 30, 0, 30), z(2026, 3, 31)),  # clipped to the range
    ]
    assert on_call(schedule, [], datetime(2026, 3, 29, 1, 59, tzinfo=BERLIN)) == ["a"]
    assert on_call(schedule, [], datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)) == ["b"]


def test_new_york_handoff_at_0230_on_spring_forward_day_happens_at_0300() -> None:
    found = shifts(
        daily(NEW_YORK, date(2026, 3, 7), time(2, 30)), [], z(2026, 3, 7), z(2026, 3, 10)
    )
    assert timeline(found) == [
        ("a", z(2026, 3, 7, 7, 30), z(2026, 3, 8, 7)),  # 02:30 EST -> 03:00 EDT
        ("b", z(2026, 3, 8, 7), z(2026, 3, 9, 6, 30)),  # 03:00 EDT -> 02:30 EDT
        ("c", z(2026, 3, 9, 6, 30), z(2026, 3, 10)),
    ]


def test_berlin_handoff_in_the_repeated_hour_is_its_first_occurrence() -> None:
    schedule = daily(BERLIN, date(2026, 10, 24), time(2, 30))
    found = shifts(schedule, [], z(2026, 10, 24), z(2026, 10, 27))
    assert timeline(found) == [
        ("a", z(2026, 10, 24, 0, 30), z(2026, 10, 25, 0, 30)),  # 02:30 CEST both days
        ("b", z(2026, 10, 25, 0, 30), z(2026, 10, 26, 1, 30)),  # to 02:30 CET: 25 hours
        ("c", z(2026, 10, 26, 1, 30), z(2026, 10, 27)),
    ]
    # 02:15 happens twice that night: at 00:15Z (fold=0, before the handoff) and at
    # 01:15Z (fold=1, after it).
    assert on_call(schedule, [], datetime(2026, 10, 25, 2, 15, tzinfo=BERLIN, fold=0)) == ["a"]
    assert on_call(schedule, [], datetime(2026, 10, 25, 2, 15, tzinfo=BERLIN, fold=1)) == ["b"]


def test_new_york_handoff_in_the_repeated_hour_is_its_first_occurrence() -> None:
    schedule = daily(NEW_YORK, date(2026, 10, 31), time(1, 30))
    found = shifts(schedule, [], z(2026, 10, 31), z(2026, 11, 3))
    assert timeline(found) == [
        ("a", z(2026, 10, 31, 5, 30), z(2026, 11, 1, 5, 30)),  # 01:30 EDT both days
        ("b", z(2026, 11, 1, 5, 30), z(2026, 11, 2, 6, 30)),  # to 01:30 EST: 25 hours
        ("c", z(2026, 11, 2, 6, 30), z(2026, 11, 3)),
    ]
    assert on_call(schedule, [], datetime(2026, 11, 1, 1, 45, tzinfo=NEW_YORK, fold=1)) == ["b"]


# --- weekly handoffs ------------------------------------------------------------------------


def test_berlin_weekly_monday_0900_across_both_changes() -> None:
    # Mondays 2026-03-16 and 03-23 are before the change, 03-30 after it.
    spring = shifts(weekly(BERLIN, date(2026, 3, 16), time(9)), [], z(2026, 3, 16), z(2026, 4, 7))
    assert timeline(spring) == [
        ("a", z(2026, 3, 16, 8), z(2026, 3, 23, 8)),
        ("b", z(2026, 3, 23, 8), z(2026, 3, 30, 7)),  # 167 hours
        ("c", z(2026, 3, 30, 7), z(2026, 4, 6, 7)),
        ("a", z(2026, 4, 6, 7), z(2026, 4, 7)),
    ]
    fall = shifts(weekly(BERLIN, date(2026, 10, 19), time(9)), [], z(2026, 10, 19), z(2026, 11, 3))
    assert timeline(fall) == [
        ("a", z(2026, 10, 19, 7), z(2026, 10, 26, 8)),  # 169 hours
        ("b", z(2026, 10, 26, 8), z(2026, 11, 2, 8)),
        ("c", z(2026, 11, 2, 8), z(2026, 11, 3)),
    ]


def test_new_york_weekly_sunday_handoffs_inside_the_changing_hour() -> None:
    # Sunday 02:30 does not exist on 03-08: the handoff is at 03:00 EDT.
    spring = shifts(
        weekly(NEW_YORK, date(2026, 3, 1), time(2, 30)), [], z(2026, 3, 1), z(2026, 3, 16)
    )
    assert timeline(spring) == [
        ("a", z(2026, 3, 1, 7, 30), z(2026, 3, 8, 7)),
        ("b", z(2026, 3, 8, 7), z(2026, 3, 15, 6, 30)),
        ("c", z(2026, 3, 15, 6, 30), z(2026, 3, 16)),
    ]
    # Sunday 01:30 happens twice on 11-01: the handoff is the first, 01:30 EDT.
    fall = shifts(
        weekly(NEW_YORK, date(2026, 10, 25), time(1, 30)), [], z(2026, 10, 25), z(2026, 11, 9)
    )
    assert timeline(fall) == [
        ("a", z(2026, 10, 25, 5, 30), z(2026, 11, 1, 5, 30)),
        ("b", z(2026, 11, 1, 5, 30), z(2026, 11, 8, 6, 30)),
        ("c", z(2026, 11, 8, 6, 30), z(2026, 11, 9)),
    ]


# --- absolute-time rotations and restrictions -----------------------------------------------


def test_custom_12h_rotation_counts_absolute_time_across_the_change() -> None:
    layer = Layer(
        "halves",
        ("a", "b"),
        date(2026, 3, 28),
        "custom",
        time(21),
        shift_length=timedelta(hours=12),
    )
    found = shifts(Schedule("ops", BERLIN, (layer,)), [], z(2026, 3, 28), z(2026, 3, 30))
    assert timeline(found) == [
        ("a", z(2026, 3, 28, 20), z(2026, 3, 29, 8)),  # 21:00 CET -> 10:00 CEST
        ("b", z(2026, 3, 29, 8), z(2026, 3, 29, 20)),
        ("a", z(2026, 3, 29, 20), z(2026, 3, 30)),
    ]


def test_business_hours_restriction_follows_the_wall_clock() -> None:
    hours = Restriction(9 * 3600, 17 * 3600, frozenset(range(5)))
    layer = Layer("office", ("a",), date(2026, 3, 1), "weekly", restrictions=(hours,))
    found = shifts(Schedule("ops", BERLIN, (layer,)), [], z(2026, 3, 27), z(2026, 3, 31))
    assert timeline(found) == [
        ("a", z(2026, 3, 27, 8), z(2026, 3, 27, 16)),  # Friday, CET
        ("a", z(2026, 3, 30, 7), z(2026, 3, 30, 15)),  # Monday, CEST
    ]
