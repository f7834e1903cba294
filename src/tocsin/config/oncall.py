"""``people`` and ``schedules``: who can be paged, and who is on call when.

These are the sections as written in the file, checked at load time; ``to_person``,
``to_schedule`` and ``config_overrides`` turn them into the pure values of
:mod:`tocsin.oncall`. For example::

    people:
      - name: alice
        email: alice@example.com
        time_zone: Europe/Berlin
        notification_rules:
          high: [{channel: slack}, {channel: email, after: 2m}]
    schedules:
      - name: primary
        time_zone: Europe/Berlin
        layers:
          - name: weekly
            rotation: weekly
            handoff: "09:00"
            handoff_day: monday
            start: 2026-01-05
            participants: [alice, bob]
          - name: business-hours          # later layers win where they have someone
            rotation: daily
            start: 2026-01-05
            participants: [carol]
            restrictions:
              - {weekdays: ["monday:friday"], start_time: "09:00", end_time: "17:00"}
        overrides:
          - {person: dave, start: 2026-01-10T09:00:00+01:00, end: 2026-01-11T09:00:00+01:00}

Weekday ranges are Alertmanager's ``time_intervals`` syntax, parsed by the same code.
Rules inside one object are ``check()`` methods (reported while decoding);
:func:`check_oncall` checks references across people and schedules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.utils import getaddresses
from typing import Annotated, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.alerts.timeintervals import (
    WEEKDAYS,
    InclusiveRange,
    parse_time,
    parse_weekday_range,
)
from tocsin.config.common import PromDuration
from tocsin.config.decode import Conv, Issue, did_you_mean
from tocsin.oncall.people import CHANNELS, URGENCIES, Channel, NotificationRule, Urgency
from tocsin.oncall.people import Person as PersonValue
from tocsin.oncall.schedules import (
    Layer,
    Override,
    Restriction,
    Rotation,
    Schedule,
    local_instant,
    shifts,
)
from tocsin.timeutil import EPOCH, parse_rfc3339

__all__ = [
    "CONFIG_OVERRIDE",
    "LayerConfig",
    "NotificationRuleConfig",
    "OverrideConfig",
    "Person",
    "RestrictionConfig",
    "ScheduleConfig",
    "check_oncall",
    "late_layers",
]

ROTATIONS: tuple[Rotation, ...] = ("daily", "weekly", "custom")
# how the id of an override from the config file starts ("config:SCHEDULE:INDEX"): the
# API lists it, and refuses to remove it (it is changed in the file)
CONFIG_OVERRIDE = "config:"


def check_time_zone(name: str) -> str:
    """An IANA zone name (``Europe/Berlin``, ``UTC``); kept as text, loaded on use."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def check_clock(text: str) -> str:
    """A wall-clock time ``HH:MM``, ``00:00`` to ``24:00``."""
    parse_time(text)
    return text


def check_weekday(text: str) -> str:
    """One weekday name (``monday``), case-insensitive; kept in lower case."""
    found = parse_weekday_range(text)
    if found.begin != found.end:
        raise ValueError(f"expected one weekday, got the range {text!r}")
    return text.lower()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from None


def parse_instant(text: str) -> datetime:
    value = parse_rfc3339(text)
    if value is None:
        raise ValueError("the zero time is not a valid instant here")
    return value


TimeZoneName = Annotated[str, Conv(check_time_zone)]
ClockTime = Annotated[str, Conv(check_clock)]
WeekdayName = Annotated[str, Conv(check_weekday)]
WeekdayItem = Annotated[InclusiveRange, Conv(parse_weekday_range)]
DateItem = Annotated[date, Conv(parse_date)]
Instant = Annotated[datetime, Conv(parse_instant)]


# --- people -------------------------------------------------------------------------------


def one_address(text: str) -> bool:
    """Whether ``text`` is one e-mail address (a name with it is fine): not a list, and
    no line break (a person's address, set through the API, added a Bcc to their pages)."""
    if any(c in text for c in "\r\n,;"):
        return False
    found = getaddresses([text])
    return len(found) == 1 and "@" in found[0][1]


@dataclass(frozen=True)
class NotificationRuleConfig:
    """``{channel: slack|email, after: 2m}`` (a webhook or PagerDuty is reached through
    a receiver, which a policy step can target)."""

    channel: str = ""
    after: PromDuration = timedelta(0)

    def check(self) -> Iterator[Issue]:
        if self.channel not in CHANNELS:
            why = f"channel must be one of {', '.join(CHANNELS)}"
            if self.channel in ("webhook", "pagerduty"):
                why += f" (to page through {self.channel}, make a receiver with it a target)"
            yield Issue(why, "channel")


@dataclass(frozen=True)
class Person:
    """One entry of ``people``; ``name`` is the id schedules and overrides use."""

    name: str = ""
    full_name: str = ""
    email: str = ""
    slack_user: str = ""
    time_zone: TimeZoneName = "UTC"
    notification_rules: Mapping[str, tuple[NotificationRuleConfig, ...]] = field(
        default_factory=dict
    )
    # Their contacts are set through ``PUT /api/v1/people/NAME`` (by themselves, say):
    # check-config then does not ask the file for a way to reach them; the server does.
    contacts_via_api: bool = False

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("missing name", "name")
        if self.email and not one_address(self.email):
            yield Issue(f"not one e-mail address: {self.email!r}", "email")
        for urgency, rules in self.notification_rules.items():
            at = f"notification_rules.{urgency}"
            if urgency not in URGENCIES:
                yield Issue(f"urgency must be one of {', '.join(URGENCIES)}", at)
                continue
            for index, rule in enumerate(rules):
                # A rule this person can never receive is a page that silently goes
                # nowhere: say so at load time, not during an incident.
                if rule.channel == "email" and not self.email:
                    yield Issue("email rule but no email for this person", f"{at}[{index}]")
                if rule.channel == "slack" and not self.slack_user:
                    yield Issue("slack rule but no slack_user for this person", f"{at}[{index}]")

    def to_person(self) -> PersonValue:
        rules = {
            cast(Urgency, urgency): tuple(
                NotificationRule(cast(Channel, r.channel), r.after) for r in items
            )
            for urgency, items in self.notification_rules.items()
        }
        return PersonValue(
            name=self.name,
            full_name=self.full_name,
            email=self.email,
            slack_user=self.slack_user,
            time_zone=ZoneInfo(self.time_zone),
            notification_rules=rules,
        )


# --- schedules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RestrictionConfig:
    """``{weekdays: ["monday:friday"], start_time: "09:00", end_time: "17:00"}``, in the
    schedule's zone. An ``end_time`` at or before ``start_time`` runs overnight into the
    next day; ``weekdays`` (every day when absent) name the day a window starts."""

    weekdays: tuple[WeekdayItem, ...] | None = None
    start_time: ClockTime = "00:00"
    end_time: ClockTime = "24:00"

    def check(self) -> Iterator[Issue]:
        if self.start_time == "24:00":
            yield Issue("start_time cannot be 24:00", "start_time")

    def to_restriction(self) -> Restriction:
        weekdays = None
        if self.weekdays is not None:
            # The config counts from Sunday (Alertmanager's way), the domain from Monday.
            weekdays = frozenset(
                (day - 1) % 7 for r in self.weekdays for day in range(r.begin, r.end + 1)
            )
        return Restriction(
            start=parse_time(self.start_time) * 60,
            end=parse_time(self.end_time) * 60,
            weekdays=weekdays,
        )


@dataclass(frozen=True)
class LayerConfig:
    """One rotation of a schedule.

    ``rotation`` is ``daily``, ``weekly`` or ``custom`` (then ``shift_length``, such as
    ``12h``, is required); the first handoff is at ``handoff`` on ``start``, and a weekly
    rotation hands off on ``handoff_day`` (the weekday of ``start`` when absent).
    """

    name: str = ""
    rotation: str = "weekly"
    shift_length: PromDuration | None = None
    handoff: ClockTime = "00:00"
    handoff_day: WeekdayName | None = None
    start: DateItem | None = None
    participants: tuple[str, ...] = ()
    restrictions: tuple[RestrictionConfig, ...] = ()

    def check(self) -> Iterator[Issue]:
        if self.rotation not in ROTATIONS:
            yield Issue(f"rotation must be one of {', '.join(ROTATIONS)}", "rotation")
        elif self.rotation == "custom":
            if self.shift_length is None:
                yield Issue("a custom rotation needs a shift_length", "shift_length")
            elif self.shift_length <= timedelta(0):
                yield Issue("shift_length must be positive", "shift_length")
        elif self.shift_length is not None:
            yield Issue("shift_length needs rotation: custom", "shift_length")
        if self.handoff_day is not None and self.rotation != "weekly":
            yield Issue("handoff_day needs rotation: weekly", "handoff_day")
        if self.handoff == "24:00":
            yield Issue("handoff must be between 00:00 and 23:59", "handoff")
        if self.start is None:
            yield Issue("missing start (the date the rotation counts from)", "start")
        if not self.participants:
            yield Issue("a layer needs at least one participant", "participants")

    def to_layer(self, name: str) -> Layer:
        if self.start is None:
            raise ValueError(f"layer {name!r} has no start")
        hours, minutes = divmod(parse_time(self.handoff), 60)
        handoff_day = None
        if self.handoff_day is not None:
            handoff_day = (WEEKDAYS.index(self.handoff_day) - 1) % 7
        return Layer(
            name=name,
            participants=self.participants,
            start=self.start,
            rotation=cast(Rotation, self.rotation),
            handoff=time(hours, minutes),
            handoff_day=handoff_day,
            shift_length=self.shift_length,
            restrictions=tuple(r.to_restriction() for r in self.restrictions),
        )

    def first_handoff(self, time_zone: str) -> datetime | None:
        """When the rotation begins (``handoff`` on ``start``, in ``time_zone``), in UTC."""
        if self.start is None:
            return None
        return local_instant(self.start, parse_time(self.handoff) * 60, ZoneInfo(time_zone))


@dataclass(frozen=True)
class OverrideConfig:
    """``{person, start, end, replaces}``: planned cover, times in RFC 3339.

    Without ``replaces`` the person is on call over the whole window; with it, only where
    the replaced person would have been.
    """

    person: str = ""
    start: Instant | None = None
    end: Instant | None = None
    replaces: str = ""

    def check(self) -> Iterator[Issue]:
        if not self.person:
            yield Issue("missing person", "person")
        if self.start is None:
            yield Issue("missing start", "start")
        if self.end is None:
            yield Issue("missing end", "end")
        if self.start is not None and self.end is not None and self.end <= self.start:
            yield Issue("end must be after start", "end")


@dataclass(frozen=True)
class ScheduleConfig:
    """One entry of ``schedules``: layers from lowest to highest priority, wall-clock
    times in ``time_zone``, and overrides planned in the file."""

    name: str = ""
    time_zone: TimeZoneName = "UTC"
    layers: tuple[LayerConfig, ...] = ()
    overrides: tuple[OverrideConfig, ...] = ()

    def check(self) -> Iterator[Issue]:
        if not self.name:
            yield Issue("missing name", "name")
        seen: set[str] = set()
        for index, name in enumerate(self.layer_names()):
            if name in seen:
                yield Issue(f"duplicate layer name {name!r}", f"layers[{index}].name")
            seen.add(name)

    def layer_names(self) -> list[str]:
        """Each layer's name; an unnamed layer is ``layer N`` (1-based)."""
        return [layer.name or f"layer {i + 1}" for i, layer in enumerate(self.layers)]

    def to_schedule(self) -> Schedule:
        layers = zip(self.layers, self.layer_names(), strict=True)
        return Schedule(
            name=self.name,
            time_zone=ZoneInfo(self.time_zone),
            layers=tuple(layer.to_layer(name) for layer, name in layers),
        )

    def on_call_spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """When someone is on call in [``start``, ``end``), by the file alone (its
        layers and overrides: those made through the API are the server's), as sorted,
        disjoint, non-touching spans in UTC; whoever it is does not matter here."""
        spans: list[tuple[datetime, datetime]] = []
        for shift in shifts(self.to_schedule(), self.config_overrides(), start, end):
            if spans and spans[-1][1] == shift.start:  # a handoff, not a gap
                spans[-1] = (spans[-1][0], shift.end)
            else:
                spans.append((shift.start, shift.end))
        return spans

    def config_overrides(self) -> tuple[Override, ...]:
        """The file's overrides, dated the epoch: an override made later at run time is
        newer and wins where they overlap, and among these the later listed wins."""
        return tuple(
            Override(
                id=f"{CONFIG_OVERRIDE}{self.name}:{index}",
                schedule=self.name,
                person=o.person,
                start=o.start,
                end=o.end,
                created_at=EPOCH,
                replaces=o.replaces or None,
            )
            for index, o in enumerate(self.overrides)
            if o.start is not None and o.end is not None
        )


# --- across people and schedules ----------------------------------------------------------


def check_oncall(
    people: Sequence[Person], schedules: Sequence[ScheduleConfig]
) -> list[tuple[str, str]]:
    """Problems across ``people`` and ``schedules`` as ``(dotted key, message)``: names
    used twice, and people that schedules or overrides name but ``people`` lacks.

    Keys start with ``people[i]`` or ``schedules[i]``, as in the file, so the caller
    can turn them into file:line problems. Rules inside one entry (an override ending
    before it starts, a missing start date) are the entries' ``check()``.
    """
    problems: list[tuple[str, str]] = []
    problems += _duplicates("people", [p.name for p in people], "person")
    problems += _duplicates("schedules", [s.name for s in schedules], "schedule")
    known = {p.name for p in people}
    for s_index, schedule in enumerate(schedules):
        at = f"schedules[{s_index}]"
        for l_index, layer in enumerate(schedule.layers):
            for p_index, name in enumerate(layer.participants):
                if name not in known:
                    key = f"{at}.layers[{l_index}].participants[{p_index}]"
                    problems.append((key, f"undefined person {name!r}{did_you_mean(name, known)}"))
        for o_index, override in enumerate(schedule.overrides):
            for key in ("person", "replaces"):
                name = getattr(override, key)
                if name and name not in known:
                    message = f"undefined person {name!r}{did_you_mean(name, known)}"
                    problems.append((f"{at}.overrides[{o_index}].{key}", message))
    return problems


def late_layers(schedules: Sequence[ScheduleConfig], now: datetime) -> list[tuple[str, str]]:
    """Schedules without layers, and layers whose rotation begins after ``now``, as
    ``(dotted key, message)``: until then that layer puts nobody on call. Said even where another
    layer covers meanwhile (who is on call then is not whom this layer names); a
    warning, not a problem: a rota planned ahead is written before it begins."""
    found: list[tuple[str, str]] = []
    for s_index, schedule in enumerate(schedules):
        if not schedule.layers:
            # a warning too, not a problem: a schedule of overrides alone (a cover
            # rota filled through the API) is a configuration that worked before
            found.append(
                (
                    f"schedules[{s_index}].layers",
                    f"schedule {schedule.name!r} has no layers: nobody is on call in it "
                    "outside its overrides' windows",
                )
            )
        for l_index, layer in enumerate(schedule.layers):
            begins = layer.first_handoff(schedule.time_zone)
            if begins is None or begins <= now:
                continue
            # in the schedule's own zone: the date and handoff as the file writes them
            local = begins.astimezone(ZoneInfo(schedule.time_zone)).isoformat()
            found.append(
                (
                    f"schedules[{s_index}].layers[{l_index}].start",
                    f"nobody on call in schedule {schedule.name!r} from this layer before {local}",
                )
            )
    return found


def _duplicates(section: str, names: list[str], what: str) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for index, name in enumerate(names):
        if name and name in seen:  # the second and later uses are the problem
            out.append((f"{section}[{index}].name", f"{what} {name!r} is not unique"))
        seen.add(name)
    return out
