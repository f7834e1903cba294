"""Property tests for schedules: random layers (all rotation kinds, restrictions, zones
with daylight saving, including Lord Howe's 30-minute change) and random overrides.

* the timeline over [a, c) is the timelines over [a, b) and [b, c) joined at b;
* shifts are sorted, never overlap, lie within the range, are never empty, and two
  touching shifts never have the same person (they would have merged);
* ``on_call`` (computed for one instant, layer by layer) agrees with ``shifts`` at
  every sampled instant: at each shift's start, just before its end, in the gaps, at
  override edges and at random.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.oncall.schedules import (
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    Shift,
    on_call,
    shifts,
)

PEOPLE = ("a", "b", "c", "d")
ROTATIONS: tuple[Rotation, ...] = ("daily", "weekly", "custom")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
# Range starts near the 2026 daylight-saving changes of the zones above, and elsewhere.
ANCHORS = (
    datetime(2026, 3, 5, tzinfo=UTC),
    datetime(2026, 3, 25, tzinfo=UTC),
    datetime(2026, 4, 1, tzinfo=UTC),
    datetime(2026, 6, 15, tzinfo=UTC),
    datetime(2026, 9, 30, tzinfo=UTC),
    datetime(2026, 10, 22, tzinfo=UTC),
    datetime(2026, 10, 29, tzinfo=UTC),
)
US = timedelta(microseconds=1)

quarter_hours = st.integers(0, 95).map(lambda q: q * 900)


@st.composite
def restrictions(draw: st.DrawFn) -> Restriction:
    start = draw(quarter_hours)
    end = draw(st.one_of(quarter_hours, st.just(86_400)))
    weekdays = draw(st.none() | st.frozensets(st.integers(0, 6), min_size=1))
    return Restriction(start, end, weekdays)


@st.composite
def layers(draw: st.DrawFn, index: int) -> Layer:
    rotation = draw(st.sampled_from(ROTATIONS))
    quarter = draw(quarter_hours)
    return Layer(
        name=f"L{index}",
        participants=tuple(draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4))),
        start=date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 330))),
        rotation=rotation,
        handoff=time(quarter // 3600, quarter // 60 % 60),
        handoff_day=draw(st.none() | st.integers(0, 6)) if rotation == "weekly" else None,
        shift_length=(
            timedelta(minutes=draw(st.integers(30, 4 * 24 * 60))) if rotation == "custom" else None
        ),
        restrictions=tuple(draw(st.lists(restrictions(), max_size=2))),
    )


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    count = draw(st.integers(1, 3))
    return Schedule(
        "s",
        ZoneInfo(draw(st.sampled_from(ZONES))),
        tuple(draw(layers(i)) for i in range(count)),
    )


@st.composite
def overrides(draw: st.DrawFn, base: datetime) -> Override:
    start = base + timedelta(minutes=draw(st.integers(-2 * 1440, 25 * 1440)))
    return Override(
        id=f"o{draw(st.integers(0, 10**6))}",
        schedule=draw(st.sampled_from(["s", "s", "s", "other"])),
        person=draw(st.sampled_from((*PEOPLE, "z"))),
        start=start,
        end=start + timedelta(minutes=draw(st.integers(1, 5 * 1440))),
        created_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 5))),
        replaces=draw(st.none() | st.sampled_from(PEOPLE)),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Schedule, list[Override], datetime, datetime, datetime]:
    a = draw(st.sampled_from(ANCHORS)) + timedelta(minutes=draw(st.integers(0, 20 * 1440)))
    b = a + timedelta(minutes=draw(st.integers(0, 12 * 1440)))
    c = b + timedelta(minutes=draw(st.integers(0, 12 * 1440)))
    found = draw(st.lists(overrides(a), max_size=5))
    return draw(schedules()), found, a, b, c


def joined(left: list[Shift], right: list[Shift]) -> list[Shift]:
    """``left + right``, the last of ``left`` and the first of ``right`` made one shift
    when they are the same person touching at the cut (keeping the first's origin)."""
    if left and right and left[-1].person == right[0].person and left[-1].end == right[0].start:
        return [*left[:-1], replace(left[-1], end=right[0].end), *right[1:]]
    return left + right


def person_at(found: list[Shift], t: datetime) -> list[str]:
    return [s.person for s in found if s.start <= t < s.end]


@settings(max_examples=200, deadline=None)
@given(cases(), st.lists(st.integers(0, 10**9), max_size=8))
def test_timeline_properties(
    case: tuple[Schedule, list[Override], datetime, datetime, datetime], extra: list[int]
) -> None:
    schedule, found_overrides, a, b, c = case
    whole = shifts(schedule, found_overrides, a, c)

    assert (
        joined(shifts(schedule, found_overrides, a, b), shifts(schedule, found_overrides, b, c))
        == whole
    )

    for shift in whole:
        assert a <= shift.start < shift.end <= c
        assert shift.start.tzinfo is UTC
        assert shift.end.tzinfo is UTC
    for first, second in pairwise(whole):
        assert first.end <= second.start
        assert not (first.end == second.start and first.person == second.person)

    samples = {a, c - US} if a < c else set()
    for shift in whole:
        samples |= {shift.start, shift.end - US, shift.end}
    for o in found_overrides:
        samples |= {o.start, o.end - US, o.end}
    span = (c - a).total_seconds()
    samples |= {a + timedelta(seconds=span * n / 10**9) for n in extra}
    for t in sorted(samples):
        if a <= t < c:
            assert on_call(schedule, found_overrides, t) == person_at(whole, t), t
