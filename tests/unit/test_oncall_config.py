"""The ``people`` and ``schedules`` sections: decoding from YAML (through the real
decoder), the rules inside each entry, the cross-references of ``check_oncall``, and
the conversion to the pure values of ``tocsin.oncall``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tocsin.config.decode import Decoder, compose
from tocsin.config.oncall import (
    LayerConfig,
    OverrideConfig,
    Person,
    ScheduleConfig,
    check_oncall,
    late_layers,
)
from tocsin.oncall.people import NotificationRule, PlannedNotification, notification_plan
from tocsin.oncall.schedules import Layer, Override, Restriction, on_call


@dataclass(frozen=True)
class Section:
    """Stands in for the top-level Config, which will hold these two fields."""

    people: tuple[Person, ...] = ()
    schedules: tuple[ScheduleConfig, ...] = ()


def decode(text: str) -> tuple[Section, list[tuple[int, str, str]]]:
    decoder = Decoder("<test>")
    node = compose(text)
    assert node is not None
    section = decoder.decode_dataclass(node, Section, "")
    return section, [(p.line, p.key, p.message) for p in decoder.problems]


EXAMPLE = """\
people:
  - name: alice
    full_name: Alice Example
    email: alice@example.com
    slack_user: U012ALICE
    time_zone: Europe/Berlin
    notification_rules:
      high: [{channel: slack}, {channel: email, after: 2m}]
      low: [{channel: email}]
  - name: bob
  - name: carol
  - name: dave
schedules:
  - name: primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation: weekly
        handoff: "09:00"
        handoff_day: Monday
        start: 2026-01-07
        participants: [alice, bob]
      - name: business-hours
        rotation: daily
        handoff: 09:00
        start: 2026-01-05
        participants: [carol]
        restrictions:
          - {weekdays: ["monday:friday"], start_time: "09:00", end_time: "17:00"}
      - rotation: custom
        shift_length: 12h
        start: 2026-01-05
        participants: [dave]
        restrictions:
          - {weekdays: [saturday, sunday], start_time: "22:00", end_time: "06:00"}
    overrides:
      - person: dave
        start: 2026-01-10T09:00:00+01:00
        end: 2026-01-11T09:00:00+01:00
        replaces: alice
"""


def test_example_decodes_without_problems() -> None:
    section, problems = decode(EXAMPLE)
    assert problems == []
    assert check_oncall(section.people, section.schedules) == []
    alice = section.people[0]
    assert alice.notification_rules["high"][1].after == timedelta(minutes=2)
    primary = section.schedules[0]
    assert primary.layers[0].start == date(2026, 1, 7)
    assert primary.layers[1].handoff == "09:00"  # a plain 09:00 stays text, not 540
    assert primary.overrides[0].start == datetime(2026, 1, 10, 8, tzinfo=UTC)


def test_schedule_converts_to_the_pure_values() -> None:
    section, _ = decode(EXAMPLE)
    schedule = section.schedules[0].to_schedule()
    assert schedule.time_zone == ZoneInfo("Europe/Berlin")
    assert schedule.layers[0] == Layer(
        "weekly", ("alice", "bob"), date(2026, 1, 7), "weekly", time(9), handoff_day=0
    )
    assert schedule.layers[1].restrictions == (
        Restriction(9 * 3600, 17 * 3600, frozenset({0, 1, 2, 3, 4})),
    )
    # Sunday is 0 in the config's weekday ranges and 6 in the domain's.
    assert schedule.layers[2].name == "layer 3"
    assert schedule.layers[2].shift_length == timedelta(hours=12)
    assert schedule.layers[2].restrictions == (Restriction(22 * 3600, 6 * 3600, frozenset({5, 6})),)
    assert section.schedules[0].config_overrides() == (
        Override(
            id="config:primary:0",
            schedule="primary",
            person="dave",
            start=datetime(2026, 1, 10, 8, tzinfo=UTC),
            end=datetime(2026, 1, 11, 8, tzinfo=UTC),
            created_at=datetime(1970, 1, 1, tzinfo=UTC),
            replaces="alice",
        ),
    )


def test_converted_schedule_answers_who_is_on_call() -> None:
    section, _ = decode(EXAMPLE)
    config = section.schedules[0]
    schedule, overrides = config.to_schedule(), config.config_overrides()
    # Wed 2026-01-07 09:00 CET (08:00Z) alice starts; Mon 01-12 09:00 bob.
    assert on_call(schedule, overrides, datetime(2026, 1, 7, 7, 59, tzinfo=UTC)) == []
    assert on_call(schedule, overrides, datetime(2026, 1, 7, 20, tzinfo=UTC)) == ["alice"]
    assert on_call(schedule, overrides, datetime(2026, 1, 8, 12, tzinfo=UTC)) == ["carol"]
    # Sat 01-10 12:00Z: alice replaced by dave; Sat 23:00 local (22:00Z) dave's night layer.
    assert on_call(schedule, overrides, datetime(2026, 1, 10, 12, tzinfo=UTC)) == ["dave"]
    assert on_call(schedule, overrides, datetime(2026, 1, 12, 12, tzinfo=UTC)) == ["carol"]
    assert on_call(schedule, overrides, datetime(2026, 1, 12, 20, tzinfo=UTC)) == ["bob"]


def test_person_converts_and_plans_notifications() -> None:
    section, _ = decode(EXAMPLE)
    alice = section.people[0].to_person()
    assert alice.time_zone == ZoneInfo("Europe/Berlin")
    assert alice.display_name == "Alice Example"
    assert alice.notification_rules["high"] == (
        NotificationRule("slack"),
        NotificationRule("email", timedelta(minutes=2)),
    )
    paged = datetime(2026, 1, 10, 3, 0, tzinfo=timezone(timedelta(hours=1)))
    assert notification_plan(alice, "high", paged) == [
        PlannedNotification(datetime(2026, 1, 10, 2, 0, tzinfo=UTC), "slack"),
        PlannedNotification(datetime(2026, 1, 10, 2, 2, tzinfo=UTC), "email"),
    ]
    assert notification_plan(section.people[1].to_person(), "high", paged) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "people: [{name: a, time_zone: Mars/Olympus}]",
            [(1, "people[0].time_zone", "unknown time zone 'Mars/Olympus'")],
        ),
        (
            "people: [{name: a, notification_rules: {high: [{channel: sms}]}}]",
            [
                (
                    1,
                    "people[0].notification_rules.high[0].channel",
                    "channel must be one of slack, email",
                )
            ],
        ),
        (
            "people: [{name: a, email: a@x.org, notification_rules: {urgent: [{channel: email}]}}]",
            [(1, "people[0].notification_rules.urgent", "urgency must be one of high, low")],
        ),
        (
            "people: [{name: a, notification_rules: {high: [{channel: email}]}}]",
            [
                (
                    1,
                    "people[0].notification_rules.high[0]",
                    "email rule but no email for this person",
                )
            ],
        ),
        (
            "people: [{name: a, email: a@x.org, "
            "notification_rules: {low: [{channel: email, after: 5x}]}}]",
            [
                (
                    1,
                    "people[0].notification_rules.low[0].after",
                    "unknown unit 'x' in duration '5x'",
                )
            ],
        ),
        (
            "people: [{name: a, email: a@x.org, notification_rules: {high: [{channel: webhook}]}}]",
            [
                (
                    1,
                    "people[0].notification_rules.high[0].channel",
                    "channel must be one of slack, email (to page through webhook, "
                    "make a receiver with it a target)",
                )
            ],
        ),
        ("people: [{full_name: Nobody}]", [(1, "people[0].name", "missing name")]),
    ],
)
def test_person_problems(text: str, expected: list[tuple[int, str, str]]) -> None:
    assert decode(text)[1] == expected


LAYER = "schedules: [{name: s, layers: [{%s}]}]"


@pytest.mark.parametrize(
    ("layer", "key", "message"),
    [
        ("start: 2026-01-01", "participants", "a layer needs at least one participant"),
        ("participants: [a]", "start", "missing start (the date the rotation counts from)"),
        ("start: 2026-13-01, participants: [a]", "start", "not a date (YYYY-MM-DD): '2026-13-01'"),
        (
            "rotation: hourly, start: 2026-01-01, participants: [a]",
            "rotation",
            "rotation must be one of daily, weekly, custom",
        ),
        (
            "rotation: custom, start: 2026-01-01, participants: [a]",
            "shift_length",
            "a custom rotation needs a shift_length",
        ),
        (
            "rotation: custom, shift_length: 0, start: 2026-01-01, participants: [a]",
            "shift_length",
            "shift_length must be positive",
        ),
        (
            "rotation: daily, shift_length: 12h, start: 2026-01-01, participants: [a]",
            "shift_length",
            "shift_length needs rotation: custom",
        ),
        (
            "rotation: daily, handoff_day: monday, start: 2026-01-01, participants: [a]",
            "handoff_day",
            "handoff_day needs rotation: weekly",
        ),
        (
            "handoff_day: 'monday:friday', start: 2026-01-01, participants: [a]",
            "handoff_day",
            "expected one weekday, got the range 'monday:friday'",
        ),
        (
            "handoff_day: funday, start: 2026-01-01, participants: [a]",
            "handoff_day",
            "funday is not a valid weekday",
        ),
        (
            "handoff: '9am', start: 2026-01-01, participants: [a]",
            "handoff",
            "couldn't parse timestamp 9am, invalid format",
        ),
        (
            "handoff: '24:00', start: 2026-01-01, participants: [a]",
            "handoff",
            "handoff must be between 00:00 and 23:59",
        ),
        (
            "start: 2026-01-01, participants: [a], restrictions: [{start_time: '24:00'}]",
            "restrictions[0].start_time",
            "start_time cannot be 24:00",
        ),
        (
            "start: 2026-01-01, participants: [a], restrictions: [{weekdays: ['friday:monday']}]",
            "restrictions[0].weekdays[0]",
            "start day cannot be before end day",
        ),
    ],
)
def test_layer_problems(layer: str, key: str, message: str) -> None:
    assert decode(LAYER % layer)[1] == [(1, f"schedules[0].layers[0].{key}", message)]


def test_override_problems() -> None:
    text = """\
schedules:
  - name: s
    layers: [{start: 2026-01-01, participants: [a]}]
    overrides:
      - {person: a, start: 2026-01-02T00:00:00Z, end: 2026-01-01T00:00:00Z}
      - {start: "2026-01-01", end: 2026-01-02T00:00:00Z}
"""
    assert decode(text)[1] == [
        (5, "schedules[0].overrides[0].end", "end must be after start"),
        (
            6,
            "schedules[0].overrides[1].start",
            "not an RFC 3339 timestamp: '2026-01-01'",
        ),
        (6, "schedules[0].overrides[1].person", "missing person"),
    ]


def test_schedule_problems() -> None:
    text = """\
schedules:
  - time_zone: Europe/Nowhere
    layers:
      - {name: x, start: 2026-01-01, participants: [a]}
      - {name: x, start: 2026-01-01, participants: [a]}
"""
    assert decode(text)[1] == [
        (2, "schedules[0].time_zone", "unknown time zone 'Europe/Nowhere'"),
        (2, "schedules[0].name", "missing name"),  # no key: the line of the entry
        (5, "schedules[0].layers[1].name", "duplicate layer name 'x'"),
    ]


NO_LAYER = "schedule {!r} has no layers: nobody is on call in it outside its overrides' windows"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # no layers key: the line of the entry
        ("schedules:\n  - name: empty\n", 2),
        ("schedules:\n  - name: empty\n    layers: []\n", 3),
        # its overrides cover their own windows only: refused all the same
        (
            "schedules:\n  - name: cover\n    overrides:\n      - {person: a, "
            "start: 2026-01-01T00:00:00Z, end: 2026-01-02T00:00:00Z}\n",
            2,
        ),
    ],
)
def test_a_schedule_without_layers_is_warned_of(text: str, line: int) -> None:
    """A warning, not a problem: a schedule of overrides alone (a cover rota filled
    through the API) is a configuration that worked before."""
    section, problems = decode(text)
    assert problems == []
    name = section.schedules[0].name
    found = late_layers(section.schedules, datetime(2026, 1, 1, tzinfo=UTC))
    assert found == [("schedules[0].layers", NO_LAYER.format(name))]


def test_on_call_spans_join_handoffs_and_leave_gaps() -> None:
    """Who is on call does not matter, only that someone is: alice's and bob's shifts
    are one span, and a restriction's gaps stay gaps."""
    section, _ = decode(EXAMPLE)
    config = section.schedules[0]
    start = datetime(2026, 1, 6, tzinfo=UTC)  # Tuesday; alice's weekly layer from Wed 09:00
    spans = config.on_call_spans(start, start + timedelta(days=2))
    assert spans == [
        # carol's business hours on Tuesday (09:00-17:00 CET), then the weekly layer on
        (datetime(2026, 1, 6, 8, tzinfo=UTC), datetime(2026, 1, 6, 16, tzinfo=UTC)),
        (datetime(2026, 1, 7, 8, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # before both layers: each said, at its start, with its first handoff local
        (
            datetime(2026, 1, 1, tzinfo=UTC),
            [
                (
                    "schedules[0].layers[0].start",
                    "nobody on call in schedule 'primary' from this layer before "
                    "2026-01-07T09:00:00+01:00",
                ),
                (
                    "schedules[0].layers[1].start",
                    "nobody on call in schedule 'primary' from this layer before "
                    "2026-01-05T09:00:00+01:00",
                ),
                (
                    "schedules[0].layers[2].start",
                    "nobody on call in schedule 'primary' from this layer before "
                    "2026-01-05T00:00:00+01:00",
                ),
            ],
        ),
        # the first handoff is the start, not the date's midnight
        (
            datetime(2026, 1, 7, 7, 59, tzinfo=UTC),
            [
                (
                    "schedules[0].layers[0].start",
                    "nobody on call in schedule 'primary' from this layer before "
                    "2026-01-07T09:00:00+01:00",
                )
            ],
        ),
        (datetime(2026, 1, 7, 8, tzinfo=UTC), []),
    ],
)
def test_late_layers(now: datetime, expected: list[tuple[str, str]]) -> None:
    section, _ = decode(EXAMPLE)
    assert late_layers(section.schedules, now) == expected


def test_check_oncall_cross_references() -> None:
    people = (Person(name="alice"), Person(name="bob"), Person(name="alice"))
    schedules = (
        ScheduleConfig(
            name="primary",
            layers=(
                LayerConfig(start=date(2026, 1, 1), participants=("alice", "mallory", "alcie")),
                LayerConfig(start=date(2026, 1, 1), participants=("eve",)),
            ),
            overrides=(
                OverrideConfig(
                    person="trent",
                    start=datetime(2026, 1, 1, tzinfo=UTC),
                    end=datetime(2026, 1, 2, tzinfo=UTC),
                    replaces="bob",
                ),
                OverrideConfig(person="bob", replaces="peggy"),
            ),
        ),
        ScheduleConfig(name="primary"),
    )
    assert check_oncall(people, schedules) == [
        ("people[2].name", "person 'alice' is not unique"),
        ("schedules[1].name", "schedule 'primary' is not unique"),
        ("schedules[0].layers[0].participants[1]", "undefined person 'mallory'"),
        # a typo, named as the policies' targets name theirs
        (
            "schedules[0].layers[0].participants[2]",
            "undefined person 'alcie' (did you mean 'alice'?)",
        ),
        ("schedules[0].layers[1].participants[0]", "undefined person 'eve'"),
        ("schedules[0].overrides[0].person", "undefined person 'trent'"),
        ("schedules[0].overrides[1].replaces", "undefined person 'peggy'"),
    ]
