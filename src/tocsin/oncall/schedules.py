"""On-call schedules as pure functions: who is on call, from when to when.

A schedule is a stack of layers in one time zone, plus overrides. Who is on call at an
instant is decided in three steps, as PagerDuty builds its "final schedule":

1. each layer's rotation names a participant, or nobody (before the layer starts, or
   outside its restrictions);
2. the highest layer (the last listed) that names someone wins, so where a layer has
   nobody the layers below show through;
3. overrides apply oldest first, each putting its person in place of whoever steps 1-2
   and older overrides left (only of the person it ``replaces``, when it names one), so
   the newest override wins where overrides overlap: an override of an override works.

Handoffs written as wall-clock times (daily and weekly rotations, restrictions) follow
the schedule's zone across daylight-saving changes: a 09:00 handoff stays at 09:00 and
the shift around the change lasts 23 or 25 hours; a time the clock skips happens at the
first instant after the jump; a time the clock repeats happens the first time it occurs.
A custom ``shift_length`` rotation counts absolute time from its first handoff, because
"every 12 hours" means elapsed time, not wall-clock time.

Nothing here reads a clock: every function takes the instants it needs. They accept
aware datetimes in any zone and answer in UTC, because datetimes that share a zone
compare by wall clock and ignore ``fold`` (so two instants in the repeated hour would
compare wrong); converting to UTC first is what makes the repeated hour unambiguous.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

__all__ = [
    "Layer",
    "Override",
    "Restriction",
    "Rotation",
    "Schedule",
    "Shift",
    "ShiftSource",
    "local_instant",
    "on_call",
    "shift_at",
    "shifts",
]

Rotation = Literal["daily", "weekly", "custom"]
ShiftSource = Literal["rotation", "override"]

_DAY = 86_400  # seconds
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Restriction:
    """A window in which a layer is on call, on every day whose weekday matches.

    Times are seconds after local midnight of the schedule's zone; ``end`` may be
    ``86400`` (24:00). When ``end <= start`` the window runs overnight into the next day
    (``19:00``-``07:00``), so an after-hours layer is one restriction, not two.
    ``weekdays`` counts Monday as 0 (Python's ``date.weekday``) and names the day the
    window starts on; ``None`` means every day.
    """

    start: int = 0
    end: int = _DAY
    weekdays: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start < _DAY or not 0 <= self.end <= _DAY:
            raise ValueError("restriction times must lie within a day")
        if self.weekdays is not None and not self.weekdays <= frozenset(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")


@dataclass(frozen=True, slots=True)
class Layer:
    """One rotation: ``participants`` take turns, the first from the first handoff.

    The first handoff is at ``handoff`` (local time) on ``start``. A daily rotation
    then hands off every day at that time, a custom one every ``shift_length``. A weekly
    one hands off on ``handoff_day`` (0 = Monday; the weekday of ``start`` if ``None``):
    when ``start`` is another weekday the first shift is short and runs to the first
    handoff day, so that the layer covers the days between its start and that day.
    """

    name: str
    participants: tuple[str, ...]
    start: date
    rotation: Rotation = "weekly"
    handoff: time = time(0)
    handoff_day: int | None = None
    shift_length: timedelta | None = None
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        if self.rotation == "custom":
            if self.shift_length is None or self.shift_length <= timedelta(0):
                raise ValueError("a custom rotation needs a positive shift_length")
        elif self.shift_length is not None:
            raise ValueError("shift_length only applies to custom rotations")
        if self.handoff_day is not None and (
            self.rotation != "weekly" or not 0 <= self.handoff_day <= 6
        ):
            raise ValueError("handoff_day is a weekday 0-6 of a weekly rotation")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Layers from lowest to highest priority, their wall-clock times in ``time_zone``."""

    name: str
    time_zone: tzinfo
    layers: tuple[Layer, ...] = ()


@dataclass(frozen=True, slots=True)
class Override:
    """``person`` is on call over [``start``, ``end``) instead of whoever else would be,
    or, when ``replaces`` names someone, instead of that person only, wherever they are.

    ``created_at`` orders overlapping overrides: the newest wins; equal times keep the
    order of the input list, later winning.
    """

    id: str
    schedule: str
    person: str
    start: datetime
    end: datetime
    created_at: datetime
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class Shift:
    """``person`` is on call over [``start``, ``end``) (UTC).

    ``layer`` and ``source`` say what put them on call at ``start``: a layer's name with
    ``"rotation"``, or an override's id with ``"override"``. A shift can go on through
    other layers or overrides of the same person, since adjacent pieces of one person
    merge into one shift (a person on call is on call, whatever the reason).
    """

    person: str
    start: datetime
    end: datetime
    layer: str
    source: ShiftSource


# --- public questions -------------------------------------------------------------------


def shifts(
    schedule: Schedule, overrides: Iterable[Override], start: datetime, end: datetime
) -> list[Shift]:
    """The final on-call timeline over [``start``, ``end``): sorted, never overlapping,
    clipped to the range, adjacent shifts of the same person merged.

    Overrides of other schedules (by ``Override.schedule``) are ignored, so a caller may
    pass every override it has. A time nobody is on call is simply not covered.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if start >= end:
        return []
    tz = schedule.time_zone
    canvas: list[Shift] = []
    for layer in schedule.layers:
        pieces = list(_rotation_pieces(layer, tz, start, end))
        if layer.restrictions:
            pieces = _within(pieces, _windows(layer.restrictions, tz, start, end))
        canvas = _overlay(canvas, pieces)
    for override in _in_order(overrides, schedule.name):
        low, high = max(override.start, start), min(override.end, end)
        if low >= high:
            continue
        if override.replaces is None:
            spans = [(low, high)]
        else:
            spans = [
                (max(p.start, low), min(p.end, high))
                for p in canvas
                if p.person == override.replaces and p.start < high and p.end > low
            ]
        above = [Shift(override.person, s, e, override.id, "override") for s, e in spans]
        canvas = _overlay(canvas, above)
    return _merged(canvas)


Span = tuple[datetime, datetime]
"""[start, end) in UTC."""

# The longest range a question (who is on call from when to when) or an override may
# span: a year of shifts, with a leap day. Without a cap, one request for a century of a
# daily rota builds megabytes for seconds.
RANGE_MAX = timedelta(days=366)


def uncovered(covered: Iterable[Span], start: datetime, end: datetime) -> list[Span]:
    """The spans of [``start``, ``end``) that no span of ``covered`` holds, sorted
    (``covered`` in any order; spans may overlap)."""
    gaps: list[Span] = []
    cursor = start
    for low, high in sorted(covered):
        if low > cursor:
            gaps.append((cursor, min(low, end)))
        cursor = max(cursor, high)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(low, high) for low, high in gaps if low < high]


# How far :func:`shift_at` looks each side of its instant at first, and at most.
SHIFT_REACH = timedelta(days=8)
SHIFT_REACH_MAX = timedelta(days=366)


def shift_at(
    timeline: Callable[[datetime, datetime], Sequence[Shift]],
    at: datetime,
    reach: timedelta = SHIFT_REACH,
    reach_max: timedelta = SHIFT_REACH_MAX,
) -> list[Shift]:
    """The shift in force at ``at``, whole (from its start to its end, as "who is on
    call now" is answered: "alice, since Monday 09:00, until next Monday 09:00"), or
    nothing when nobody is on call then.

    ``timeline`` gives the shifts over a range, clipped to it (:func:`shifts` with the
    schedule and overrides bound). The range starts ``reach`` each side of ``at`` and
    doubles while the shift reaches one of its ends, up to ``reach_max``: a shift longer
    than that (one participant, on call for good) is shown cut there.
    """
    at = _utc(at, "at")
    span = reach
    while True:
        low, high = at - span, at + span
        found = [s for s in timeline(low, high) if s.start <= at < s.end]
        if not found or span >= reach_max or (found[0].start > low and found[0].end < high):
            return found
        span = min(2 * span, reach_max)


def on_call(schedule: Schedule, overrides: Iterable[Override], at: datetime) -> list[str]:
    """Who is on call at ``at``: one person, or nobody (an empty list).

    Answered for the one instant, layer by layer and override by override, rather than
    by cutting a timeline; it is the same rule as :func:`shifts`, and tests check that
    the two agree.
    """
    at = _utc(at, "at")
    tz = schedule.time_zone
    person: str | None = None
    for layer in reversed(schedule.layers):
        person = _layer_person_at(layer, tz, at)
        if person is not None:
            break
    for override in _in_order(overrides, schedule.name):
        if override.start <= at < override.end and override.replaces in (None, person):
            person = override.person
    return [] if person is None else [person]


def local_instant(day: date, seconds: int, tz: tzinfo) -> datetime:
    """The UTC instant at which the wall clock of ``tz`` shows ``seconds`` after
    midnight of ``day`` (``86400`` is midnight of the next day).

    A repeated wall time (the hour the clocks go back) is its first occurrence
    (``fold=0``). A skipped one (the hour they go forward) is the first instant after the
    jump, i.e. the transition itself, found by bisection between the two readings of the
    wall time (with the offsets before and after), because ``zoneinfo`` does not expose
    transitions.
    """
    day += timedelta(days=seconds // _DAY)
    seconds %= _DAY
    wall = datetime.combine(day, time(seconds // 3600, seconds // 60 % 60, seconds % 60))
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=0 reads the wall time with the offset from before the jump, which
    # lands after the transition, and fold=1 with the offset from after, which lands
    # before it.
    after_offset = first.astimezone(tz).utcoffset()
    low = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(tz).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


# --- rotations ----------------------------------------------------------------------------


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _first_weekly_day(layer: Layer) -> date:
    """The date of the second handoff of a weekly rotation (the first on its handoff day
    after ``start``): a full week later when ``start`` already is a handoff day."""
    weekday = layer.start.weekday() if layer.handoff_day is None else layer.handoff_day
    return layer.start + timedelta(days=(weekday - layer.start.weekday() - 1) % 7 + 1)


def _boundary(layer: Layer, tz: tzinfo, k: int) -> datetime:
    """The instant of handoff ``k`` (0 is the first); shift ``k`` runs to handoff k+1."""
    handoff = _seconds(layer.handoff)
    if layer.rotation == "custom":
        assert layer.shift_length is not None  # checked when the layer was built
        return local_instant(layer.start, handoff, tz) + k * layer.shift_length
    if layer.rotation == "daily":
        return local_instant(layer.start + k * _ONE_DAY, handoff, tz)
    if k == 0:
        return local_instant(layer.start, handoff, tz)
    return local_instant(_first_weekly_day(layer) + timedelta(days=7 * (k - 1)), handoff, tz)


def _index_at(layer: Layer, tz: tzinfo, t: datetime) -> int:
    """The index of the shift running at ``t`` (0 when ``t`` is before the first).

    Estimated from elapsed time or the local date of ``t``, then corrected by stepping,
    since a daylight-saving jump can move a handoff across midnight.
    """
    if layer.rotation == "custom":
        assert layer.shift_length is not None
        k = (t - _boundary(layer, tz, 0)) // layer.shift_length
    elif layer.rotation == "daily":
        k = (t.astimezone(tz).date() - layer.start).days
    else:
        k = (t.astimezone(tz).date() - _first_weekly_day(layer)).days // 7 + 1
    k = max(0, k)
    while k > 0 and _boundary(layer, tz, k) > t:
        k -= 1
    while _boundary(layer, tz, k + 1) <= t:
        k += 1
    return k


def _rotation_pieces(layer: Layer, tz: tzinfo, start: datetime, end: datetime) -> Iterator[Shift]:
    if not layer.participants:
        return
    k = _index_at(layer, tz, start)
    shift_start = _boundary(layer, tz, k)
    while shift_start < end:
        shift_end = _boundary(layer, tz, k + 1)
        person = layer.participants[k % len(layer.participants)]
        yield Shift(person, max(shift_start, start), min(shift_end, end), layer.name, "rotation")
        k, shift_start = k + 1, shift_end


def _layer_person_at(layer: Layer, tz: tzinfo, at: datetime) -> str | None:
    if not layer.participants or at < _boundary(layer, tz, 0):
        return None
    if layer.restrictions and not _restricted_window_holds(layer.restrictions, tz, at):
        return None
    return layer.participants[_index_at(layer, tz, at) % len(layer.participants)]


# --- restrictions -------------------------------------------------------------------------


def _window(r: Restriction, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    end = r.end if r.end > r.start else r.end + _DAY
    return local_instant(day, r.start, tz), local_instant(day, end, tz)


def _applies(r: Restriction, day: date) -> bool:
    return r.weekdays is None or day.weekday() in r.weekdays


def _restricted_window_holds(restrictions: Sequence[Restriction], tz: tzinfo, at: datetime) -> bool:
    today = at.astimezone(tz).date()
    # A window that started yesterday may run overnight into today.
    for day in (today - _ONE_DAY, today):
        for r in restrictions:
            if _applies(r, day):
                low, high = _window(r, day, tz)
                if low <= at < high:
                    return True
    return False


def _windows(
    restrictions: Sequence[Restriction], tz: tzinfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The restriction windows over [start, end), clipped, sorted and merged."""
    day, last = start.astimezone(tz).date() - _ONE_DAY, end.astimezone(tz).date()
    spans: list[tuple[datetime, datetime]] = []
    while day <= last:
        for r in restrictions:
            if _applies(r, day):
                low, high = _window(r, day, tz)
                low, high = max(low, start), min(high, end)
                if low < high:
                    spans.append((low, high))
        day += _ONE_DAY
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


# --- combining ----------------------------------------------------------------------------


def _within(pieces: Sequence[Shift], spans: Sequence[tuple[datetime, datetime]]) -> list[Shift]:
    """The parts of sorted ``pieces`` inside sorted, disjoint ``spans``."""
    out: list[Shift] = []
    j = 0
    for piece in pieces:
        while j < len(spans) and spans[j][1] <= piece.start:
            j += 1
        k = j
        while k < len(spans) and spans[k][0] < piece.end:
            low, high = max(piece.start, spans[k][0]), min(piece.end, spans[k][1])
            out.append(replace(piece, start=low, end=high))
            k += 1
    return out


def _overlay(below: Sequence[Shift], above: Sequence[Shift]) -> list[Shift]:
    """``above`` painted over ``below``; both sorted and without overlaps."""
    out: list[Shift] = []
    j = 0
    for piece in below:
        while j < len(above) and above[j].end <= piece.start:
            j += 1
        cursor, k = piece.start, j
        while k < len(above) and above[k].start < piece.end:
            if above[k].start > cursor:
                out.append(replace(piece, start=cursor, end=above[k].start))
            cursor = max(cursor, above[k].end)
            k += 1
        if cursor < piece.end:
            out.append(replace(piece, start=cursor))
    out.extend(above)
    out.sort(key=lambda s: s.start)
    return out


def _merged(pieces: Sequence[Shift]) -> list[Shift]:
    out: list[Shift] = []
    for piece in pieces:
        if out and out[-1].person == piece.person and out[-1].end == piece.start:
            out[-1] = replace(out[-1], end=piece.end)
        else:
            out.append(piece)
    return out


def _in_order(overrides: Iterable[Override], schedule: str) -> list[Override]:
    """This schedule's overrides, oldest first (a stable sort keeps input order for
    equal ``created_at``), with every instant in UTC."""
    mine = [
        replace(
            o,
            start=_utc(o.start, "override start"),
            end=_utc(o.end, "override end"),
            created_at=_utc(o.created_at, "override created_at"),
        )
        for o in overrides
        if o.schedule == schedule
    ]
    mine.sort(key=lambda o: o.created_at)
    return mine


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)
