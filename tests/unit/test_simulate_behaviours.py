"""One row per documented behaviour of grouping and notification, run end to end
(config -> routing -> grouping -> decision) on the fake clock.

Each row cites the sentence of Alertmanager's ``docs/configuration.md`` or the Go
function (``dispatch/group.go``, ``notify/notify.go``) it checks. The expected
notifications were worked out by hand from those rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.matchers import parse_matchers
from tocsin.alerts.notify_decision import effective_repeat_interval
from tocsin.alerts.silences import Silence
from tocsin.alerts.simulate import Post, simulate
from tocsin.config import parse_config

DAY = datetime(2025, 7, 22, tzinfo=UTC)
END = DAY + timedelta(days=1)
FOREVER = END + timedelta(days=30)


def at(hhmmss: str) -> datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def labels(name: str, **extra: str) -> dict[str, str]:
    """``name`` is the alert's short name in the expectations (label ``id``)."""
    return {"alertname": extra.pop("alertname", "X"), "id": name, **extra}


def fire(name: str, when: str, **extra: str) -> Post:
    """Post a firing alert that stays firing until resolved (an explicit far end time)."""
    return Post(at(when), labels(name, **extra), starts_at=at(when), ends_at=FOREVER)


def resolve(name: str, fired: str, when: str, **extra: str) -> Post:
    return Post(at(when), labels(name, **extra), starts_at=at(fired), ends_at=at(when))


NO_CHILD = """    - matchers: ['never="matches"']
      receiver: team
"""


def config(
    *,
    repeat: str = "1h",
    send_resolved: bool = True,
    group_by: str = "[alertname]",
    routes: str = NO_CHILD,
    extra: str = "",
) -> str:
    """The root route sends to ``team``; ``routes`` are its children (YAML list items)."""
    return f"""
route:
  receiver: team
  group_by: {group_by}
  group_wait: 30s
  group_interval: 5m
  repeat_interval: {repeat}
  routes:
{routes}
receivers:
  - name: team
    webhook_configs:
      - {{url: 'http://127.0.0.1:9/team', send_resolved: {str(send_resolved).lower()}}}
  - name: other
    webhook_configs: [{{url: 'http://127.0.0.1:9/other'}}]
{extra}
"""


Expected = list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]


@dataclass
class Row:
    id: str
    why: str  # the documented behaviour checked
    posts: list[Post]
    expected: Expected
    config: str = field(default_factory=config)
    until: str = "10:04:00"
    silences: list[Silence] = field(default_factory=list)


def team(
    time: str, firing: str = "", resolved: str = ""
) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    return (time, "team", tuple(firing.split()), tuple(resolved.split()))


MAINTENANCE_WINDOW = """
time_intervals:
  - name: maintenance
    time_intervals: [{times: [{start_time: '10:02', end_time: '10:12'}]}]
"""

ROWS = [
    Row(
        "group-wait-delays-first",
        "docs group_wait: 'How long to wait before sending the first notification for a "
        "new group of alerts'",
        [fire("a", "10:00:00")],
        [team("10:00:30", "a")],
    ),
    Row(
        "group-wait-collects",
        "docs group_wait: 'Allows to wait for alerts to arrive from other rule groups' -- "
        "alerts added during group_wait are in the first notification",
        [fire("a", "10:00:00"), fire("b", "10:00:29")],
        [team("10:00:30", "a b")],
    ),
    Row(
        "group-interval-for-changes",
        "docs group_interval: 'At each group_interval, Alertmanager checks if any new "
        "alerts have fired ... and if they have a notification is sent'",
        [fire("a", "10:00:00"), fire("b", "10:02:00")],
        [team("10:00:30", "a"), team("10:05:30", "a b")],
        until="10:09:00",
    ),
    Row(
        "late-alert-waits-group-interval",
        "docs group_wait: 'A notification for any alerts that missed the initial "
        "group_wait will be sent at the next group_interval instead' (not 30s later)",
        [fire("a", "10:00:00"), fire("b", "10:06:00")],
        [team("10:00:30", "a"), team("10:10:30", "a b")],
        until="10:14:00",
    ),
    Row(
        "unchanged-not-renotified",
        "needsUpdate: 'Nothing changed, only notify if the repeat interval has passed'",
        [fire("a", "10:00:00")],
        [team("10:00:30", "a")],
        until="10:59:59",
    ),
    Row(
        "repeat-interval-multiple",
        "docs repeat_interval is checked at group_interval ticks; needsUpdate's check is "
        "strict, so 1h on a 5m tick repeats at the first tick after 1h (issues #676, #917)",
        [fire("a", "10:00:00")],
        [team("10:00:30", "a"), team("11:05:30", "a"), team("12:10:30", "a")],
        until="12:30:00",
    ),
    Row(
        "repeat-interval-rounded-up",
        "docs repeat_interval: 'If it's not [a multiple], the repeat_interval is rounded "
        "up to the next multiple of the group_interval' -- 12m on a 5m tick is 15m",
        [fire("a", "10:00:00")],
        [team("10:00:30", "a"), team("10:15:30", "a"), team("10:30:30", "a")],
        config=config(repeat="12m"),
        until="10:40:00",
    ),
    Row(
        "repeat-below-group-interval",
        "PR #3389: with repeat_interval < group_interval 'the earliest a notification can "
        "be sent again is the next time the aggregation group is flushed'",
        [fire("a", "10:00:00")],
        [team("10:00:30", "a"), team("10:05:30", "a"), team("10:10:30", "a")],
        config=config(repeat="1m"),
        until="10:12:00",
    ),
    Row(
        "resolved-with-send-resolved",
        "needsUpdate: all resolved notifies; with send_resolved the message carries them",
        [fire("a", "10:00:00"), resolve("a", "10:00:00", "10:07:00")],
        [team("10:00:30", "a"), team("10:10:30", "", "a")],
        until="10:14:00",
    ),
    Row(
        "resolved-without-send-resolved",
        "RetryStage: without send_resolved an all-resolved group sends nothing",
        [fire("a", "10:00:00"), resolve("a", "10:00:00", "10:07:00")],
        [team("10:00:30", "a")],
        config=config(send_resolved=False),
        until="10:14:00",
    ),
    Row(
        "partial-resolve-with-send-resolved",
        "needsUpdate: send_resolved && !IsResolvedSubset -> notify; firing ones included",
        [fire("a", "10:00:00"), fire("b", "10:00:00"), resolve("a", "10:00:00", "10:07:00")],
        [team("10:00:30", "a b"), team("10:10:30", "b", "a")],
        until="10:14:00",
    ),
    Row(
        "partial-resolve-without-send-resolved",
        "needsUpdate: without send_resolved a partial resolve is no change",
        [fire("a", "10:00:00"), fire("b", "10:00:00"), resolve("a", "10:00:00", "10:07:00")],
        [team("10:00:30", "a b")],
        config=config(send_resolved=False),
        until="10:59:00",
    ),
    Row(
        "resolved-within-group-wait",
        "docs group_wait: 'If an alert is resolved before group_wait has elapsed, no "
        "notification will be sent for that alert'",
        [fire("a", "10:00:00"), resolve("a", "10:00:00", "10:00:20")],
        [],
        until="10:14:00",
    ),
    Row(
        "empty-group-removed",
        "flush: resolved alerts are deleted after the notification, and the empty group "
        "is removed -- the next firing starts a new group with group_wait, not a tick",
        [
            fire("a", "10:00:00"),
            resolve("a", "10:00:00", "10:07:00"),
            fire("a", "10:12:00"),
        ],
        [team("10:00:30", "a"), team("10:10:30", "", "a"), team("10:12:30", "a")],
        until="10:20:00",
    ),
    Row(
        "group-by-all-labels",
        "docs group_by: ['...'] 'effectively disables aggregation entirely'",
        [fire("a", "10:00:00"), fire("b", "10:00:10")],
        [team("10:00:30", "a"), team("10:00:40", "b")],
        config=config(group_by="['...']"),
        until="10:04:00",
    ),
    Row(
        "continue-routes-own-groups",
        "docs route: 'If continue is true on a matching node, the alert will continue "
        "matching against subsequent siblings' -- each matched route has its own group",
        [fire("a", "10:00:00", team="db")],
        [
            ("10:00:30", "team", ("a",), ()),
            ("10:00:30", "other", ("a",), ()),
        ],
        config=config(
            routes=NO_CHILD
            + """    - matchers: ['team="db"']
      receiver: team
      continue: true
    - matchers: ['team="db"']
      receiver: other
"""
        ),
        until="10:04:00",
    ),
    Row(
        "mute-time-interval",
        "TimeMuteStage: inside a mute time 'all alerts are removed from the pipeline'; the "
        "log is untouched, so the first tick after the window notifies",
        [fire("a", "10:00:00")],
        [team("10:12:00", "a")],
        config=config(
            routes="""    - matchers: ['alertname="X"']
      receiver: team
      group_wait: 2m
      mute_time_intervals: [maintenance]
""",
            extra=MAINTENANCE_WINDOW,
        ),
        until="10:20:00",
    ),
    Row(
        "active-time-interval",
        "TimeActiveStage: outside its active times a route sends nothing",
        [fire("a", "10:00:00")],
        [team("10:02:00", "a")],
        config=config(
            routes="""    - matchers: ['alertname="X"']
      receiver: team
      group_wait: 1m
      group_interval: 1m
      active_time_intervals: [maintenance]
""",
            extra=MAINTENANCE_WINDOW,
        ),
        until="10:03:30",
    ),
    Row(
        "silenced-alert-removed",
        "MuteStage: a silenced alert is not sent; the rest of the group is",
        [fire("a", "10:00:00"), fire("b", "10:00:00")],
        [team("10:00:30", "a")],
        silences=[
            Silence(
                "s1",
                tuple(parse_matchers('id="b"')),
                at("09:00:00"),
                at("12:00:00"),
                at("09:00:00"),
                "me",
                "maintenance",
            )
        ],
        until="10:30:00",
    ),
    Row(
        "all-silenced-group-not-notified",
        "MuteStage leaves no alerts, so nothing is sent or logged; when the silence ends "
        "the next tick is a first notification",
        [fire("a", "10:00:00")],
        [team("10:10:30", "a")],
        silences=[
            Silence(
                "s1",
                tuple(parse_matchers('id="a"')),
                at("09:00:00"),
                at("10:07:00"),
                at("09:00:00"),
                "me",
                "maintenance",
            )
        ],
        until="10:20:00",
    ),
    Row(
        "inhibited-alert-removed",
        "MuteStage with the inhibitor: a target alert is dropped while its source fires",
        [
            fire("warn", "10:00:00", alertname="Y", severity="warning"),
            fire("crit", "10:00:00", alertname="Y", severity="critical"),
            resolve("crit", "10:00:00", "10:03:00", alertname="Y", severity="critical"),
        ],
        [team("10:00:30", "crit"), team("10:05:30", "warn", "crit")],
        config=config(
            extra="""inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname]
"""
        ),
        until="10:09:00",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_behaviour(row: Row) -> None:
    names = {fingerprint(p.labels): p.labels["id"] for p in row.posts}
    result = simulate(parse_config(row.config), row.posts, at(row.until), silences=row.silences)
    got = [
        (
            n.at.strftime("%H:%M:%S"),
            n.receiver,
            tuple(sorted(names[fp] for fp in n.firing)),
            tuple(sorted(names[fp] for fp in n.resolved)),
        )
        for n in result.notifications
    ]
    assert got == row.expected, row.why


def test_continue_routes_share_a_group_key_but_not_a_group() -> None:
    row = next(r for r in ROWS if r.id == "continue-routes-own-groups")
    result = simulate(parse_config(row.config), row.posts, at("10:04:00"))
    assert len(result.groups) == 2
    assert len({key for _, key in result.groups}) == 1
    assert {g.receiver for g in result.groups.values()} == {"team", "other"}


# (repeat_interval, group_interval, effective gap between repeats)
REPEATS = [
    (timedelta(hours=1), timedelta(minutes=5), timedelta(minutes=65)),
    (timedelta(minutes=12), timedelta(minutes=5), timedelta(minutes=15)),
    (timedelta(minutes=15), timedelta(minutes=5), timedelta(minutes=20)),
    (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=5)),
    (timedelta(hours=4), timedelta(minutes=5), timedelta(hours=4, minutes=5)),
]


@pytest.mark.parametrize(("repeat", "interval", "gap"), REPEATS)
def test_effective_repeat_interval(repeat: timedelta, interval: timedelta, gap: timedelta) -> None:
    assert effective_repeat_interval(repeat, interval) == gap


@settings(max_examples=40, deadline=None)
@given(repeat_s=st.integers(1, 3 * 3600), interval_s=st.integers(60, 1800))
def test_repeats_of_an_unchanged_group_are_effective_repeat_interval_apart(
    repeat_s: int, interval_s: int
) -> None:
    repeat, interval = timedelta(seconds=repeat_s), timedelta(seconds=interval_s)
    text = config().replace("group_interval: 5m", f"group_interval: {interval_s}s")
    text = text.replace("repeat_interval: 1h", f"repeat_interval: {repeat_s}s")
    result = simulate(parse_config(text), [fire("a", "10:00:00")], at("16:00:00"))
    times = [n.at for n in result.notifications]
    assert times[0] == at("10:00:30")
    gaps = {later - earlier for earlier, later in pairwise(times)}
    assert gaps == {effective_repeat_interval(repeat, interval)}
