"""Schedules: rotations, layers with restrictions, overrides (PagerDuty's final-schedule
rules). Every expected timeline is worked out by hand and written as literal instants."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.oncall.schedules import (
    Layer,
    Override,
    Restriction,
    Schedule,
    Shift,
    on_call,
    shift_at,
    shifts,
)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, FRIDAY = 0, 4


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def timeline(found: list[Shift]) -> list[tuple[str, datetime, datetime]]:
    return [(s.person, s.start, s.end) for s in found]


# 2026-01-01 is a Thursday.
DAILY = Layer("daily", ("alice", "bob", "carol"), date(2026, 1, 1), "daily", time(9))
UTC_DAILY = Schedule("ops", UTC, (DAILY,))


# --- rotations ------------------------------------------------------------------------------


def test_daily_rotation_starts_at_first_handoff_and_wraps_around() -> None:
    found = shifts(UTC_DAILY, [], z(2026, 1, 1), z(2026, 1, 5))
    assert timeline(found) == [
        ("alice", z(2026, 1, 1, 9), z(2026, 1, 2, 9)),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 3, 9)),
        ("carol", z(2026, 1, 3, 9), z(2026, 1, 4, 9)),
        ("alice", z(2026, 1, 4, 9), z(2026, 1, 5)),  # wrapped, clipped to the range
    ]
    assert {(s.layer, s.source) for s in found} == {("daily", "rotation")}


def test_daily_rotation_far_from_its_start() -> None:
    # 2026-03-01 09:00 is handoff 59 (31 + 28 days on): 59 % 3 = 2 -> carol; before it bob.
    found = shifts(UTC_DAILY, [], z(2026, 3, 1), z(2026, 3, 2))
    assert timeline(found) == [
        ("bob", z(2026, 3, 1), z(2026, 3, 1, 9)),
        ("carol", z(2026, 3, 1, 9), z(2026, 3, 2)),
    ]


def test_rotation_that_starts_in_the_future_has_nobody_yet() -> None:
    assert shifts(UTC_DAILY, [], z(2025, 12, 1), z(2026, 1, 1, 9)) == []
    assert on_call(UTC_DAILY, [], z(2026, 1, 1, 8, 59)) == []
    assert on_call(UTC_DAILY, [], z(2026, 1, 1, 9)) == ["alice"]


def test_weekly_rotation_with_handoff_day_starts_with_a_short_shift() -> None:
    # Starts on Wednesday 2026-01-07, hands off on Mondays at 09:00.
    layer = Layer(
        "weekly", ("alice", "bob"), date(2026, 1, 7), "weekly", time(9), handoff_day=MONDAY
    )
    found = shifts(Schedule("ops", UTC, (layer,)), [], z(2026, 1, 7), z(2026, 1, 26, 12))
    assert timeline(found) == [
        ("alice", z(2026, 1, 7, 9), z(2026, 1, 12, 9)),
        ("bob", z(2026, 1, 12, 9), z(2026, 1, 19, 9)),
        ("alice", z(2026, 1, 19, 9), z(2026, 1, 26, 9)),
        ("bob", z(2026, 1, 26, 9), z(2026, 1, 26, 12)),
    ]


def test_weekly_rotation_without_handoff_day_hands_off_on_the_start_weekday() -> None:
    layer = Layer("weekly", ("alice", "bob"), date(2026, 1, 8), "weekly", time(17, 30))
    found = shifts(Schedule("ops", UTC, (layer,)), [], z(2026, 1, 1), z(2026, 1, 23))
    assert timeline(found) == [
        ("alice", z(2026, 1, 8, 17, 30), z(2026, 1, 15, 17, 30)),
        ("bob", z(2026, 1, 15, 17, 30), z(2026, 1, 22, 17, 30)),
        ("alice", z(2026, 1, 22, 17, 30), z(2026, 1, 23)),
    ]


def test_custom_twelve_hour_rotation() -> None:
    layer = Layer(
        "halves",
        ("alice", "bob", "carol"),
        date(2026, 1, 1),
        "custom",
        time(8),
        shift_length=timedelta(hours=12),
    )
    found = shifts(Schedule("ops", UTC, (layer,)), [], z(2026, 1, 1), z(2026, 1, 2, 22))
    assert timeline(found) == [
        ("alice", z(2026, 1, 1, 8), z(2026, 1, 1, 20)),
        ("bob", z(2026, 1, 1, 20), z(2026, 1, 2, 8)),
        ("carol", z(2026, 1, 2, 8), z(2026, 1, 2, 20)),
        ("alice", z(2026, 1, 2, 20), z(2026, 1, 2, 22)),
    ]
    # 100 days on: (2026-04-11 08:00 - 2026-01-01 08:00) / 12h = 200 -> 200 % 3 = 2.
    assert on_call(Schedule("ops", UTC, (layer,)), [], z(2026, 4, 11, 8)) == ["carol"]


def test_one_participant_makes_one_merged_shift() -> None:
    layer = Layer("solo", ("alice",), date(2026, 1, 1), "daily", time(9))
    found = shifts(Schedule("ops", UTC, (layer,)), [], z(2026, 1, 3), z(2026, 1, 10))
    assert timeline(found) == [("alice", z(2026, 1, 3), z(2026, 1, 10))]


def test_empty_or_inverted_range() -> None:
    assert shifts(UTC_DAILY, [], z(2026, 2, 1), z(2026, 2, 1)) == []
    assert shifts(UTC_DAILY, [], z(2026, 2, 2), z(2026, 2, 1)) == []


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        shifts(UTC_DAILY, [], datetime(2026, 1, 1), z(2026, 1, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(UTC_DAILY, [], datetime(2026, 1, 1))


def test_layer_rejects_inconsistent_rotation_settings() -> None:
    with pytest.raises(ValueError, match="shift_length"):
        Layer("x", ("a",), date(2026, 1, 1), "custom")
    with pytest.raises(ValueError, match="shift_length"):
        Layer("x", ("a",), date(2026, 1, 1), "daily", shift_length=timedelta(hours=1))
    with pytest.raises(ValueError, match="handoff_day"):
        Layer("x", ("a",), date(2026, 1, 1), "daily", handoff_day=MONDAY)
    with pytest.raises(ValueError, match="within a day"):
        Restriction(start=86_400)


# --- layers and restrictions ----------------------------------------------------------------

# Berlin in January is UTC+1: 09:00 local is 08:00Z, 17:00 local is 16:00Z.
WEEKLY_24_7 = Layer(
    "weekly", ("alice", "bob"), date(2026, 1, 5), "weekly", time(9), handoff_day=MONDAY
)
BUSINESS_HOURS = Layer(
    "business-hours",
    ("carol", "dave"),
    date(2026, 1, 5),
    "daily",
    time(9),
    restrictions=(Restriction(9 * 3600, 17 * 3600, frozenset(range(MONDAY, FRIDAY + 1))),),
)
LAYERED = Schedule("ops", BERLIN, (WEEKLY_24_7, BUSINESS_HOURS))


def test_business_hours_layer_over_a_24_7_layer() -> None:
    # Fri 2026-01-09 to Tue 2026-01-13. Weekly: alice to Mon 08:00Z, then bob. Daily top
    # layer from Mon 01-05: handoff 4 (Fri) is carol, handoff 7 (Mon 01-12) is dave.
    found = shifts(LAYERED, [], z(2026, 1, 9), z(2026, 1, 13))
    assert [(s.person, s.start, s.end, s.layer) for s in found] == [
        ("alice", z(2026, 1, 9), z(2026, 1, 9, 8), "weekly"),
        ("carol", z(2026, 1, 9, 8), z(2026, 1, 9, 16), "business-hours"),
        ("alice", z(2026, 1, 9, 16), z(2026, 1, 12, 8), "weekly"),  # the weekend
        ("dave", z(2026, 1, 12, 8), z(2026, 1, 12, 16), "business-hours"),
        ("bob", z(2026, 1, 12, 16), z(2026, 1, 13), "weekly"),  # handed off under dave
    ]
    assert on_call(LAYERED, [], z(2026, 1, 10, 12)) == ["alice"]  # Saturday
    assert on_call(LAYERED, [], z(2026, 1, 12, 15, 59)) == ["dave"]
    assert on_call(LAYERED, [], z(2026, 1, 12, 16)) == ["bob"]


def test_gap_in_top_layer_before_it_starts_shows_the_lower_one() -> None:
    later_top = Layer("top", ("carol",), date(2026, 1, 10), "daily", time(0))
    schedule = Schedule("ops", UTC, (DAILY, later_top))
    found = shifts(schedule, [], z(2026, 1, 9), z(2026, 1, 11))
    # Lower layer: handoff 7 (01-08) is bob, 8 (01-09) carol, 9 (01-10) alice; the top
    # layer has carol from 01-10 00:00, hiding alice, and joins the lower layer's carol.
    assert timeline(found) == [
        ("bob", z(2026, 1, 9), z(2026, 1, 9, 9)),
        ("carol", z(2026, 1, 9, 9), z(2026, 1, 11)),
    ]
    assert found[1].layer == "daily"  # what put carol on call when her shift began
    assert on_call(schedule, [], z(2026, 1, 10, 12)) == ["carol"]


def test_overnight_restriction_covers_the_morning_of_the_next_day() -> None:
    day = Layer("days", ("dora",), date(2025, 12, 31), "daily")
    nights = Layer(
        "nights",
        ("nina",),
        date(2025, 12, 31),
        "daily",
        restrictions=(Restriction(22 * 3600, 6 * 3600),),
    )
    schedule = Schedule("ops", UTC, (day, nights))
    found = shifts(schedule, [], z(2026, 1, 1), z(2026, 1, 2, 12))
    assert timeline(found) == [
        ("nina", z(2026, 1, 1), z(2026, 1, 1, 6)),  # the window that began 12-31 22:00
        ("dora", z(2026, 1, 1, 6), z(2026, 1, 1, 22)),
        ("nina", z(2026, 1, 1, 22), z(2026, 1, 2, 6)),
        ("dora", z(2026, 1, 2, 6), z(2026, 1, 2, 12)),
    ]
    assert on_call(schedule, [], z(2026, 1, 1, 5, 59)) == ["nina"]
    assert on_call(schedule, [], z(2026, 1, 1, 6)) == ["dora"]


def test_restricted_only_layer_leaves_nobody_outside_its_windows() -> None:
    schedule = Schedule("ops", BERLIN, (BUSINESS_HOURS,))
    assert on_call(schedule, [], z(2026, 1, 10, 12)) == []  # Saturday
    found = shifts(schedule, [], z(2026, 1, 10), z(2026, 1, 13))
    assert timeline(found) == [("dave", z(2026, 1, 12, 8), z(2026, 1, 12, 16))]


# --- overrides ------------------------------------------------------------------------------


def override(
    oid: str,
    person: str,
    start: datetime,
    end: datetime,
    created: datetime,
    replaces: str | None = None,
    schedule: str = "ops",
) -> Override:
    return Override(oid, schedule, person, start, end, created, replaces)


CREATED = z(2025, 12, 1)


def test_single_override() -> None:
    o = override("o1", "dave", z(2026, 1, 2, 12), z(2026, 1, 2, 15), CREATED)
    found = shifts(UTC_DAILY, [o], z(2026, 1, 2), z(2026, 1, 3))
    assert [(s.person, s.start, s.end, s.layer, s.source) for s in found] == [
        ("alice", z(2026, 1, 2), z(2026, 1, 2, 9), "daily", "rotation"),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 2, 12), "daily", "rotation"),
        ("dave", z(2026, 1, 2, 12), z(2026, 1, 2, 15), "o1", "override"),
        ("bob", z(2026, 1, 2, 15), z(2026, 1, 3), "daily", "rotation"),
    ]
    assert on_call(UTC_DAILY, [o], z(2026, 1, 2, 12)) == ["dave"]
    assert on_call(UTC_DAILY, [o], z(2026, 1, 2, 15)) == ["bob"]


def test_override_of_an_override_newest_wins_whatever_the_input_order() -> None:
    older = override("o1", "dave", z(2026, 1, 2, 10), z(2026, 1, 2, 16), z(2025, 12, 1))
    newer = override("o2", "erin", z(2026, 1, 2, 12), z(2026, 1, 2, 13), z(2025, 12, 2))
    found = shifts(UTC_DAILY, [newer, older], z(2026, 1, 2), z(2026, 1, 3))
    assert timeline(found) == [
        ("alice", z(2026, 1, 2), z(2026, 1, 2, 9)),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 2, 10)),
        ("dave", z(2026, 1, 2, 10), z(2026, 1, 2, 12)),
        ("erin", z(2026, 1, 2, 12), z(2026, 1, 2, 13)),
        ("dave", z(2026, 1, 2, 13), z(2026, 1, 2, 16)),
        ("bob", z(2026, 1, 2, 16), z(2026, 1, 3)),
    ]
    assert on_call(UTC_DAILY, [newer, older], z(2026, 1, 2, 12, 30)) == ["erin"]


def test_equal_created_at_later_in_the_list_wins() -> None:
    first = override("o1", "dave", z(2026, 1, 2, 10), z(2026, 1, 2, 12), CREATED)
    second = override("o2", "erin", z(2026, 1, 2, 11), z(2026, 1, 2, 12), CREATED)
    assert on_call(UTC_DAILY, [first, second], z(2026, 1, 2, 11)) == ["erin"]
    assert on_call(UTC_DAILY, [second, first], z(2026, 1, 2, 11)) == ["dave"]


def test_replacing_override_covers_only_the_replaced_person() -> None:
    # alice is on call until 09:00, bob after: only alice's part goes to erin.
    o = override("o1", "erin", z(2026, 1, 2, 6), z(2026, 1, 2, 12), CREATED, replaces="alice")
    found = shifts(UTC_DAILY, [o], z(2026, 1, 2), z(2026, 1, 2, 12))
    assert timeline(found) == [
        ("alice", z(2026, 1, 2), z(2026, 1, 2, 6)),
        ("erin", z(2026, 1, 2, 6), z(2026, 1, 2, 9)),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 2, 12)),
    ]
    assert on_call(UTC_DAILY, [o], z(2026, 1, 2, 10)) == ["bob"]


def test_replacing_an_override_person() -> None:
    cover = override("o1", "dave", z(2026, 1, 2, 10), z(2026, 1, 2, 16), z(2025, 12, 1))
    swap = override("o2", "erin", z(2026, 1, 2), z(2026, 1, 3), z(2025, 12, 2), replaces="dave")
    found = shifts(UTC_DAILY, [cover, swap], z(2026, 1, 2, 8), z(2026, 1, 2, 18))
    assert timeline(found) == [
        ("alice", z(2026, 1, 2, 8), z(2026, 1, 2, 9)),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 2, 10)),
        ("erin", z(2026, 1, 2, 10), z(2026, 1, 2, 16)),
        ("bob", z(2026, 1, 2, 16), z(2026, 1, 2, 18)),
    ]


def test_override_partly_outside_the_range_is_clipped() -> None:
    o = override("o1", "dave", z(2026, 1, 1, 20), z(2026, 1, 2, 3), CREATED)
    found = shifts(UTC_DAILY, [o], z(2026, 1, 2), z(2026, 1, 2, 10))
    assert timeline(found) == [
        ("dave", z(2026, 1, 2), z(2026, 1, 2, 3)),
        ("alice", z(2026, 1, 2, 3), z(2026, 1, 2, 9)),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 2, 10)),
    ]


def test_override_for_someone_outside_the_rotation_and_where_nobody_was() -> None:
    # Before the rotation starts nobody is on call; zed covers the evening anyway.
    o = override("o1", "zed", z(2025, 12, 31, 18), z(2026, 1, 1, 10), CREATED)
    found = shifts(UTC_DAILY, [o], z(2025, 12, 31), z(2026, 1, 1, 12))
    assert [(s.person, s.start, s.end, s.source) for s in found] == [
        ("zed", z(2025, 12, 31, 18), z(2026, 1, 1, 10), "override"),
        ("alice", z(2026, 1, 1, 10), z(2026, 1, 1, 12), "rotation"),
    ]
    assert on_call(UTC_DAILY, [o], z(2025, 12, 31, 17)) == []
    assert on_call(UTC_DAILY, [o], z(2025, 12, 31, 18)) == ["zed"]


def test_replacing_someone_who_is_not_on_call_does_nothing() -> None:
    o = override("o1", "erin", z(2026, 1, 2), z(2026, 1, 3), CREATED, replaces="carol")
    found = shifts(UTC_DAILY, [o], z(2026, 1, 2), z(2026, 1, 2, 12))
    assert timeline(found) == [
        ("alice", z(2026, 1, 2), z(2026, 1, 2, 9)),
        ("bob", z(2026, 1, 2, 9), z(2026, 1, 2, 12)),
    ]


def test_overrides_of_other_schedules_are_ignored() -> None:
    o = override("o1", "dave", z(2026, 1, 2), z(2026, 1, 3), CREATED, schedule="other")
    assert on_call(UTC_DAILY, [o], z(2026, 1, 2, 12)) == ["bob"]
    assert all(s.person != "dave" for s in shifts(UTC_DAILY, [o], z(2026, 1, 2), z(2026, 1, 3)))


def test_override_adjoining_the_same_person_merges_into_one_shift() -> None:
    # alice's own rotation shift ends at 09:00; her override continues it to 12:00.
    o = override("o1", "alice", z(2026, 1, 2, 9), z(2026, 1, 2, 12), CREATED)
    found = shifts(UTC_DAILY, [o], z(2026, 1, 2), z(2026, 1, 2, 18))
    assert [(s.person, s.start, s.end, s.source) for s in found] == [
        ("alice", z(2026, 1, 2), z(2026, 1, 2, 12), "rotation"),
        ("bob", z(2026, 1, 2, 12), z(2026, 1, 2, 18), "rotation"),
    ]


def test_override_times_in_other_zones_are_instants() -> None:
    # 13:00-16:00 Berlin in January is 12:00-15:00Z.
    o = override(
        "o1",
        "dave",
        datetime(2026, 1, 2, 13, tzinfo=BERLIN),
        datetime(2026, 1, 2, 16, tzinfo=BERLIN),
        CREATED,
    )
    found = shifts(UTC_DAILY, [o], z(2026, 1, 2, 10), z(2026, 1, 2, 18))
    assert ("dave", z(2026, 1, 2, 12), z(2026, 1, 2, 15)) in timeline(found)
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in found)


# --- the shift in force at an instant, whole --------------------------------------------

WEEKLY = Layer("weekly", ("alice", "bob"), date(2026, 1, 5), "weekly", time(9), handoff_day=MONDAY)
BUSINESS = Restriction(9 * 3600, 17 * 3600, frozenset(range(MONDAY, FRIDAY + 1)))


@pytest.mark.parametrize(
    ("schedule", "overrides", "at", "expected"),
    [
        pytest.param(  # mid-shift: from the last handoff to the next, not the instant
            UTC_DAILY,
            [],
            z(2026, 1, 2, 15),
            [("bob", z(2026, 1, 2, 9), z(2026, 1, 3, 9))],
            id="daily",
        ),
        pytest.param(  # a handoff instant belongs to the shift it starts
            UTC_DAILY,
            [],
            z(2026, 1, 3, 9),
            [("carol", z(2026, 1, 3, 9), z(2026, 1, 4, 9))],
            id="at-handoff",
        ),
        pytest.param(  # 09:00 Berlin is 08:00 UTC in winter
            Schedule("ops", BERLIN, (WEEKLY,)),
            [],
            z(2026, 2, 4),
            [("alice", z(2026, 2, 2, 8), z(2026, 2, 9, 8))],
            id="weekly-berlin",
        ),
        pytest.param(  # the week of the DST switch: 09:00 CET to 09:00 CEST, 167 hours
            Schedule("ops", BERLIN, (WEEKLY,)),
            [],
            z(2026, 3, 25),
            [("bob", z(2026, 3, 23, 8), z(2026, 3, 30, 7))],
            id="weekly-across-dst",
        ),
        pytest.param(  # an override in force: its window
            UTC_DAILY,
            [Override("o1", "ops", "dave", z(2026, 1, 2, 12), z(2026, 1, 2, 15), z(2025, 12, 1))],
            z(2026, 1, 2, 13),
            [("dave", z(2026, 1, 2, 12), z(2026, 1, 2, 15))],
            id="override",
        ),
        pytest.param(  # right after it: the rest of the rotation's shift
            UTC_DAILY,
            [Override("o1", "ops", "dave", z(2026, 1, 2, 12), z(2026, 1, 2, 15), z(2025, 12, 1))],
            z(2026, 1, 2, 15),
            [("bob", z(2026, 1, 2, 15), z(2026, 1, 3, 9))],
            id="after-override",
        ),
        pytest.param(  # outside business hours nobody is on call
            Schedule("ops", UTC, (replace(DAILY, restrictions=(BUSINESS,)),)),
            [],
            z(2026, 1, 2, 20),
            [],
            id="nobody",
        ),
        pytest.param(  # a 40-day rotation: wider than the first look, found whole
            Schedule(
                "ops",
                UTC,
                (
                    Layer(
                        "long",
                        ("alice", "bob"),
                        date(2026, 1, 1),
                        "custom",
                        time(0),
                        shift_length=timedelta(days=40),
                    ),
                ),
            ),
            [],
            z(2026, 2, 20),
            [("bob", z(2026, 2, 10), z(2026, 3, 22))],
            id="long-shift",
        ),
        pytest.param(  # one participant, on call for good: cut a year each side
            Schedule(
                "ops", UTC, (replace(DAILY, participants=("alice",), start=date(2020, 1, 1)),)
            ),
            [],
            z(2026, 6, 1),
            [("alice", z(2026, 6, 1) - timedelta(days=366), z(2026, 6, 1) + timedelta(days=366))],
            id="for-good",
        ),
    ],
)
def test_shift_at_is_the_whole_shift_in_force(
    schedule: Schedule,
    overrides: list[Override],
    at: datetime,
    expected: list[tuple[str, datetime, datetime]],
) -> None:
    found = shift_at(lambda low, high: shifts(schedule, overrides, low, high), at)
    assert timeline(found) == expected
    # the same person on_call names for the instant
    assert [s.person for s in found] == on_call(schedule, overrides, at)
