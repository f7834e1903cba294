"""A whole day of Threads-Agent alerts through the runbook's routing, with the exact
notifications written down by hand from Alertmanager's rules (not by running the code).

The configuration is ``data/sim/threads-agent-day.yml``; the alerts are sent the way
Prometheus sends them (re-sent every minute while firing, resolved alerts re-sent for
15 minutes), so the run also shows that re-sends never cause extra notifications.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.matchers import parse_matchers
from tocsin.alerts.notify_decision import Reason
from tocsin.alerts.silences import Silence
from tocsin.alerts.simulate import Notification, Post, prometheus_posts, simulate
from tocsin.config import load_config, parse_config

DATA = Path(__file__).parent / "data" / "sim"
DAY = datetime(2025, 7, 22, tzinfo=UTC)  # a Tuesday
END = DAY + timedelta(days=1)


def at(hhmmss: str) -> datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def alert(name: str, severity: str, service: str, **extra: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, "service": service, **extra}


# name -> labels; the names are only for reading the expectations.
ALERTS = {
    "HighTokenCost/persona": alert("HighTokenCost", "warning", "persona-runtime"),
    "HighLatency/persona": alert("HighLatency", "warning", "persona-runtime"),
    "HighTokenCost/content": alert("HighTokenCost", "warning", "content-generator"),
    "ServiceDown/orchestrator": alert("ServiceDown", "critical", "orchestrator"),
    "HighLatency/orchestrator": alert("HighLatency", "warning", "orchestrator"),
    "LowEngagementRate": alert(
        "LowEngagementRate", "warning", "persona-runtime", category="business"
    ),
    "HighCostPerFollow": alert(
        "HighCostPerFollow", "warning", "persona-runtime", category="business"
    ),
    "NodeDiskPressure/db-0": alert(
        "NodeDiskPressure", "warning", "postgres", category="infrastructure", instance="db-0"
    ),
    "NodeDiskPressure/db-1": alert(
        "NodeDiskPressure", "warning", "postgres", category="infrastructure", instance="db-1"
    ),
    "HighErrorRate/orchestrator": alert("HighErrorRate", "critical", "orchestrator"),
    "DatabaseConnectionFailure": alert("DatabaseConnectionFailure", "critical", "orchestrator"),
    "CeleryQueueDepthHigh": alert(
        "CeleryQueueDepthHigh", "critical", "celery-worker", category="infrastructure"
    ),
    "LowEngagementRate/flap": alert(
        "LowEngagementRate", "warning", "persona-runtime", category="business", flap="yes"
    ),
}
NAMES = {fingerprint(labels): name for name, labels in ALERTS.items()}

# name -> (fires at, resolves at)
TIMELINE = {
    "HighTokenCost/persona": ("01:50:00", "02:20:00"),
    "HighLatency/persona": ("02:30:00", "03:40:00"),
    "HighTokenCost/content": ("04:00:00", "12:30:00"),
    "ServiceDown/orchestrator": ("09:00:00", "09:50:00"),
    "HighLatency/orchestrator": ("09:02:00", "10:30:00"),
    "LowEngagementRate": ("11:00:00", "14:00:00"),
    "HighCostPerFollow": ("11:00:30", "15:10:00"),
    "NodeDiskPressure/db-0": ("13:00:00", "13:20:00"),
    "NodeDiskPressure/db-1": ("13:07:00", "13:40:00"),
    "HighErrorRate/orchestrator": ("16:30:00", "17:10:00"),
    "DatabaseConnectionFailure": ("17:50:00", "18:20:00"),
    "CeleryQueueDepthHigh": ("20:00:00", "20:04:00"),
    "LowEngagementRate/flap": ("21:00:00", "21:00:40"),
}

# The runbook's "Alert Suppression": silence service=orchestrator for planned maintenance.
MAINTENANCE = Silence(
    "maintenance",
    tuple(parse_matchers('service="orchestrator"')),
    at("16:00:00"),
    at("18:00:00"),
    at("16:00:00"),
    "maintenance-user",
    "Planned maintenance window",
)

F, R = "firing", "resolved"

# (time, receiver, firing names, resolved names), in the simulator's order: by time,
# then routing-tree order. Timers: critical gw 10s / gi 5m / repeat 15m; business
# gw 1m / gi 30m / repeat 24h; everything else gw 30s / gi 5m / repeat 4h.
EXPECTED: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    # Warning, group created 01:50:00, first flush after group_wait (30s).
    ("01:50:30", "slack-warnings", ("HighTokenCost/persona",), ()),
    # 02:00-03:00 is the nightly-maintenance mute window of the warning route: the
    # 02:20:30 tick finds it resolved but muted, the group is cleared anyway
    # (TimeMuteStage drops the notification, the flush still counts as done), so the
    # resolved notification is never sent.
    # HighLatency/persona fires at 02:30 inside the window: flushes 02:30:30..02:55:30
    # are muted, 03:00 is the window's excluded end, so the first notification is the
    # 03:00:30 tick, and the resolve at 03:40 goes out at the 03:40:30 tick.
    ("03:00:30", "slack-warnings", ("HighLatency/persona",), ()),
    ("03:40:30", "slack-warnings", (), ("HighLatency/persona",)),
    # 4h repeat on a 5m tick from 04:00:30: 08:00:30 is exactly 4h (not more), so the
    # repeat is 08:05:30, then 12:10:30; the resolve at 12:30 at the 12:30:30 tick.
    ("04:00:30", "slack-warnings", ("HighTokenCost/content",), ()),
    ("08:05:30", "slack-warnings", ("HighTokenCost/content",), ()),
    # 15m repeat on a 5m tick from 09:00:10: 09:15:10 is exactly 15m, so 09:20:10,
    # 09:40:10; resolved (PagerDuty sends resolved by default) at the 09:50:10 tick.
    ("09:00:10", "pagerduty-critical", ("ServiceDown/orchestrator",), ()),
    ("09:20:10", "pagerduty-critical", ("ServiceDown/orchestrator",), ()),
    ("09:40:10", "pagerduty-critical", ("ServiceDown/orchestrator",), ()),
    ("09:50:10", "pagerduty-critical", (), ("ServiceDown/orchestrator",)),
    # HighLatency/orchestrator (group ticks 09:02:30 + 5m) is inhibited by ServiceDown
    # (critical, same service) until that resolves at 09:50; first unmuted tick 09:52:30.
    ("09:52:30", "slack-warnings", ("HighLatency/orchestrator",), ()),
    ("10:32:30", "slack-warnings", (), ("HighLatency/orchestrator",)),
    # Business: grouped by category only, so HighCostPerFollow (11:00:30, during the
    # 1m group_wait) is in the first notification. Email without send_resolved: the
    # partial resolve at the 14:01 tick and the all-resolved 15:31 tick send nothing.
    ("11:01:00", "business-email", ("HighCostPerFollow", "LowEngagementRate"), ()),
    ("12:10:30", "slack-warnings", ("HighTokenCost/content",), ()),
    ("12:30:30", "slack-warnings", (), ("HighTokenCost/content",)),
    # Infrastructure: two routes (continue: true), two groups, two receivers. db-1
    # joins at 13:07 and waits for the 13:10:30 tick, not for group_wait.
    ("13:00:30", "slack-infrastructure", ("NodeDiskPressure/db-0",), ()),
    ("13:00:30", "ops-email", ("NodeDiskPressure/db-0",), ()),
    ("13:10:30", "slack-infrastructure", ("NodeDiskPressure/db-0", "NodeDiskPressure/db-1"), ()),
    ("13:10:30", "ops-email", ("NodeDiskPressure/db-0", "NodeDiskPressure/db-1"), ()),
    # db-0 resolves at 13:20: only ops-email (send_resolved) cares; slack-infrastructure
    # neither then nor at the all-resolved 13:40:30 tick sends anything.
    ("13:20:30", "ops-email", ("NodeDiskPressure/db-1",), ("NodeDiskPressure/db-0",)),
    ("13:40:30", "ops-email", (), ("NodeDiskPressure/db-1",)),
    # HighErrorRate (16:30-17:10) is entirely inside the 16:00-18:00 silence: nothing.
    # DatabaseConnectionFailure fires at 17:50, silenced until the silence ends at
    # 18:00:00, so the 18:00:10 tick is its first notification.
    ("18:00:10", "pagerduty-critical", ("DatabaseConnectionFailure",), ()),
    ("18:20:10", "pagerduty-critical", (), ("DatabaseConnectionFailure",)),
    # Critical wins over infrastructure (first match, no continue): pager only.
    ("20:00:10", "pagerduty-critical", ("CeleryQueueDepthHigh",), ()),
    ("20:05:10", "pagerduty-critical", (), ("CeleryQueueDepthHigh",)),
    # The flapping business alert (21:00:00-21:00:40) resolves within group_wait: nothing.
]


def day_posts() -> list[Post]:
    posts: list[Post] = []
    for name, (fires, resolves) in TIMELINE.items():
        posts += prometheus_posts(ALERTS[name], at(fires), at(resolves), until=END)
    return posts


def readable(n: Notification) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    return (
        n.at.strftime("%H:%M:%S"),
        n.receiver,
        tuple(sorted(NAMES[fp] for fp in n.firing)),
        tuple(sorted(NAMES[fp] for fp in n.resolved)),
    )


def run_day(posts: list[Post]) -> list[Notification]:
    config = load_config(DATA / "threads-agent-day.yml")
    result = simulate(config, posts, END, silences=[MAINTENANCE])
    return list(result.notifications)


def test_a_day_of_threads_agent_alerts_produces_exactly_these_notifications() -> None:
    assert [readable(n) for n in run_day(day_posts())] == EXPECTED


def test_the_day_leaves_no_group_behind_and_the_log_cleared() -> None:
    config = load_config(DATA / "threads-agent-day.yml")
    result = simulate(config, day_posts(), END, silences=[MAINTENANCE])
    assert result.groups == {}
    # Every integration that was told about a firing alert was, in the end, told (or
    # recorded) that nothing fires, except where a mute window swallowed the resolve.
    still_firing = {(key[1], NAMES[fp]) for key, entry in result.log.items() for fp in entry.firing}
    assert still_firing == {("slack-warnings", "HighTokenCost/persona")}


def test_the_reasons_of_the_day() -> None:
    reasons = [(n.at.strftime("%H:%M:%S"), n.reason) for n in run_day(day_posts())]
    assert reasons[:5] == [
        ("01:50:30", Reason.FIRST),
        ("03:00:30", Reason.FIRST),
        ("03:40:30", Reason.ALL_RESOLVED),
        ("04:00:30", Reason.FIRST),
        ("08:05:30", Reason.REPEAT),
    ]
    assert ("13:10:30", Reason.NEW_FIRING) in reasons
    assert ("13:20:30", Reason.NEWLY_RESOLVED) in reasons


def test_the_order_posts_are_given_in_does_not_matter() -> None:
    posts = day_posts()
    random.Random(7).shuffle(posts)
    # Posts of one instant keep their relative order after the stable sort by time;
    # the day has at most one post per alert per instant, so any shuffle is equivalent.
    assert [readable(n) for n in run_day(posts)] == EXPECTED


# --- smaller scenarios: behaviours that need a sequence of flushes ---------------------

SIMPLE = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['window="nights"']
      receiver: team
      mute_time_intervals: [nights]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '05:30', end_time: '06:00'}]
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:9/hook'}]
"""


def names(result: list[Notification], labels: dict[str, dict[str, str]]) -> list[tuple[str, ...]]:
    by_fp = {fingerprint(v): k for k, v in labels.items()}
    return [
        (
            n.at.strftime("%H:%M:%S"),
            *(f"+{by_fp[fp]}" for fp in n.firing),
            *(f"-{by_fp[fp]}" for fp in n.resolved),
        )
        for n in result
    ]


def test_an_alert_that_refires_after_a_muted_resolve_waits_for_repeat_interval() -> None:
    # needsUpdate only compares with the last *sent* notification. The resolve (05:40)
    # fell in the 05:30-06:00 mute window, so the log still lists the alert as firing
    # (it was notified at 05:20:30, before the window); when it fires again
    # the group looks unchanged and is only re-notified once repeat_interval (1h, so
    # the first tick after 06:20:30) has passed since 05:20:30.
    a = {"alertname": "Backup", "window": "nights"}
    posts = prometheus_posts(a, at("05:20:00"), at("05:40:00"), until=END)
    posts += prometheus_posts(a, at("06:10:00"), at("07:00:00"), until=END)
    result = simulate(parse_config(SIMPLE), posts, END)
    assert names(list(result.notifications), {"a": a}) == [
        ("05:20:30", "+a"),
        ("06:25:30", "+a"),  # group of 06:10:00 ticks at 06:10:30 + 5m; 06:20:30 is not > 1h
        ("07:00:30", "-a"),
    ]


def test_an_explicit_resolve_without_any_notification_sends_nothing() -> None:
    # A resolved alert arriving for a group that was never notified: NOTHING_FIRING.
    a = {"alertname": "Quiet"}
    posts = [Post(at("10:00:00"), a, starts_at=at("09:00:00"), ends_at=at("09:30:00"))]
    result = simulate(parse_config(SIMPLE), posts, END)
    assert result.notifications == ()
    assert result.groups == {}


def test_an_alert_without_ends_at_resolves_after_resolve_timeout() -> None:
    # No endsAt: Alertmanager resolves it resolve_timeout (default 5m) after the post.
    a = {"alertname": "Once"}
    result = simulate(parse_config(SIMPLE), [Post(at("10:00:00"), a)], END)
    assert names(list(result.notifications), {"a": a}) == [
        ("10:00:30", "+a"),
        ("10:05:30", "-a"),  # ends_at 10:05:00, seen at the next tick
    ]
