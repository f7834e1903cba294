"""The notification decision, one row per branch of Alertmanager's
``DedupStage.needsUpdate`` and per documented effect of ``RetryStage``,
``SetNotifiesStage``, ``MuteStage``, ``TimeMuteStage`` and ``TimeActiveStage``
(``notify/notify.go``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.grouping import FlushBatch
from tocsin.alerts.labels import LabelSet, fingerprint
from tocsin.alerts.matchers import parse_matchers
from tocsin.alerts.model import Alert
from tocsin.alerts.mutes import Muter, NoMutes, SilenceMuter
from tocsin.alerts.notify_decision import (
    Integration,
    LogEntry,
    Reason,
    TimeMute,
    decide,
    integrations_of,
    needs_update,
    plan_flush,
    split_muted,
    time_muted,
)
from tocsin.alerts.routing import build_route_tree
from tocsin.alerts.silences import Silence
from tocsin.alerts.timeintervals import muted_at
from tocsin.config import parse_config

T0 = datetime(2025, 7, 22, 10, 0, tzinfo=UTC)
M, H = timedelta(minutes=1), timedelta(hours=1)
KEY = '{}:{alertname="X"}'


def entry(firing: str, resolved: str = "", at: datetime = T0 - 10 * M) -> LogEntry:
    return LogEntry(KEY, "team", "webhook[0]", frozenset(firing), frozenset(resolved), at)


# (id, previous entry, firing now, resolved now, send_resolved, now, expected reason)
NEEDS_UPDATE = [
    # "If we haven't notified about the alert group before, notify right away
    # unless we only have resolved alerts."
    ("first-firing", None, "a", "", True, T0, Reason.FIRST),
    ("first-only-resolved", None, "", "a", True, T0, Reason.NOTHING_FIRING),
    ("first-nothing", None, "", "", True, T0, Reason.NOTHING_FIRING),
    # !entry.IsFiringSubset(firing): a firing alert the last notification lacked.
    ("new-firing", entry("a"), "ab", "", True, T0, Reason.NEW_FIRING),
    ("new-firing-no-send-resolved", entry("a"), "ab", "", False, T0, Reason.NEW_FIRING),
    ("new-firing-replaces", entry("a"), "b", "a", False, T0, Reason.NEW_FIRING),
    # len(firing) == 0: "Notify about all alerts being resolved ... irrespective of the
    # send_resolved flag", unless the last notification had nothing firing either.
    ("all-resolved", entry("ab"), "", "ab", True, T0, Reason.ALL_RESOLVED),
    ("all-resolved-no-send-resolved", entry("ab"), "", "ab", False, T0, Reason.ALL_RESOLVED),
    ("resolved-unseen", entry("", "a"), "", "b", True, T0, Reason.UNSEEN_RESOLVED),
    # send_resolved && !entry.IsResolvedSubset(resolved)
    ("newly-resolved", entry("ab"), "b", "a", True, T0, Reason.NEWLY_RESOLVED),
    ("newly-resolved-ignored", entry("ab"), "b", "a", False, T0, Reason.UNCHANGED),
    ("resolved-already-sent", entry("b", "a"), "b", "a", True, T0, Reason.UNCHANGED),
    # "Nothing changed, only notify if the repeat interval has passed" (strictly).
    ("fewer-firing-unchanged", entry("ab"), "a", "", True, T0, Reason.UNCHANGED),
    ("repeat-not-yet", entry("a", at=T0 - H + M), "a", "", True, T0, Reason.UNCHANGED),
    ("repeat-exactly", entry("a", at=T0 - H), "a", "", True, T0, Reason.UNCHANGED),
    (
        "repeat-passed",
        entry("a", at=T0 - H - timedelta(microseconds=1)),
        "a",
        "",
        True,
        T0,
        Reason.REPEAT,
    ),
]


@pytest.mark.parametrize(
    ("previous", "firing", "resolved", "send_resolved", "now", "expected"),
    [row[1:] for row in NEEDS_UPDATE],
    ids=[row[0] for row in NEEDS_UPDATE],
)
def test_needs_update(
    previous: LogEntry | None,
    firing: str,
    resolved: str,
    send_resolved: bool,
    now: datetime,
    expected: Reason,
) -> None:
    got = needs_update(
        previous,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat_interval=H,
        now=now,
    )
    assert got is expected


def test_only_the_sending_reasons_notify() -> None:
    assert {r for r in Reason if r.notify} == {
        Reason.FIRST,
        Reason.NEW_FIRING,
        Reason.ALL_RESOLVED,
        Reason.NEWLY_RESOLVED,
        Reason.REPEAT,
    }


WEBHOOK = Integration("team", "webhook", 0, send_resolved=True)
EMAIL = Integration("team", "email", 0, send_resolved=False)


def test_decide_records_what_was_decided_at_now() -> None:
    # SetNotifiesStage logs the firing and resolved hashes of this notification.
    d = decide(
        entry("a"),
        group_key=KEY,
        integration=WEBHOOK,
        firing=["b"],
        resolved=["a"],
        repeat_interval=H,
        now=T0,
    )
    assert d.reason is Reason.NEW_FIRING
    assert (d.firing, d.resolved, d.send) == (("b",), ("a",), True)
    assert d.entry == LogEntry(KEY, "team", "webhook[0]", frozenset("b"), frozenset("a"), T0)


def test_without_send_resolved_only_firing_alerts_are_sent_but_all_are_logged() -> None:
    # RetryStage: "If we shouldn't send notifications for resolved alerts ..." sends
    # only the firing ones; the log still gets the resolved hashes.
    d = decide(
        entry("a"),
        group_key=KEY,
        integration=EMAIL,
        firing=["b"],
        resolved=["a"],
        repeat_interval=H,
        now=T0,
    )
    assert (d.firing, d.resolved, d.send) == (("b",), (), True)
    assert d.entry is not None
    assert d.entry.resolved == frozenset("a")


def test_an_all_resolved_group_without_send_resolved_sends_nothing_but_clears_the_log() -> None:
    # RetryStage: "there are only resolved alerts, report them all as successfully
    # notified (we still want the notification log to log them ...)".
    d = decide(
        entry("a"),
        group_key=KEY,
        integration=EMAIL,
        firing=[],
        resolved=["a"],
        repeat_interval=H,
        now=T0,
    )
    assert d.reason is Reason.ALL_RESOLVED
    assert not d.send
    assert d.entry == LogEntry(KEY, "team", "email[0]", frozenset(), frozenset("a"), T0)


def test_no_update_means_nothing_to_send_or_record() -> None:
    d = decide(
        entry("a"),
        group_key=KEY,
        integration=WEBHOOK,
        firing=["a"],
        resolved=[],
        repeat_interval=H,
        now=T0,
    )
    assert d.reason is Reason.UNCHANGED
    assert (d.send, d.entry) == (False, None)


def test_log_entry_json_round_trip() -> None:
    e = entry("ab", "c", at=T0 + timedelta(microseconds=7))
    assert LogEntry.from_json(json.loads(json.dumps(e.to_json()))) == e
    assert e.key == (KEY, "team", "webhook[0]")


# --- time intervals ---------------------------------------------------------------------------

INTERVALS = {
    "night": parse_config(
        """
route: {receiver: r}
receivers: [{name: r}]
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
"""
    ).named_time_intervals()["night"],
}
NIGHT = datetime(2025, 7, 22, 3, 0, tzinfo=UTC)
DAYTIME = datetime(2025, 7, 22, 12, 0, tzinfo=UTC)

# (id, mute names, active names, now, expected)
TIME_ROWS = [
    ("no-intervals", (), (), NIGHT, None),
    # TimeMuteStage: "If the current time is inside a mute time, all alerts are removed".
    ("inside-mute", ("night",), (), NIGHT, TimeMute.MUTED),
    ("outside-mute", ("night",), (), DAYTIME, None),
    # TimeActiveStage: "If the current time is not inside an active time, all alerts
    # are removed"; no active intervals means always active.
    ("inside-active", (), ("night",), NIGHT, None),
    ("outside-active", (), ("night",), DAYTIME, TimeMute.INACTIVE),
    ("active-checked-first", ("night",), ("night",), DAYTIME, TimeMute.INACTIVE),
    ("both-inside", ("night",), ("night",), NIGHT, TimeMute.MUTED),
]


@pytest.mark.parametrize(
    ("mute", "active", "now", "expected"),
    [row[1:] for row in TIME_ROWS],
    ids=[row[0] for row in TIME_ROWS],
)
def test_time_muted(
    mute: tuple[str, ...], active: tuple[str, ...], now: datetime, expected: TimeMute | None
) -> None:
    assert time_muted(mute, active, INTERVALS, now) == expected


@given(
    minute=st.integers(0, 24 * 60 - 1),
    mute=st.sampled_from([(), ("night",)]),
    active=st.sampled_from([(), ("night",)]),
)
def test_time_muted_agrees_with_muted_at(
    minute: int, mute: tuple[str, ...], active: tuple[str, ...]
) -> None:
    now = datetime(2025, 7, 22, tzinfo=UTC) + timedelta(minutes=minute)
    assert (time_muted(mute, active, INTERVALS, now) is not None) == muted_at(
        mute, active, INTERVALS, now
    )


# --- muting alerts and the whole flush ---------------------------------------------------------


def alert(instance: str, *, resolved: bool = False) -> Alert:
    labels = {"alertname": "X", "instance": instance}
    return Alert(
        fingerprint(labels), labels, {}, T0 - H, T0 - M if resolved else T0 + H, "", T0 - H, False
    )


class ByInstance:
    """A muter naming a reason for the listed instances."""

    def __init__(self, *instances: str) -> None:
        self.instances = instances

    def muted_by(self, fingerprint: str, labels: LabelSet) -> list[str]:
        return ["rule"] if labels.get("instance") in self.instances else []


def test_split_muted_drops_firing_and_resolved_alike() -> None:
    # MuteStage filters on labels only; a muted resolved alert is not sent either.
    kept, muted = split_muted(
        [alert("a"), alert("b", resolved=True), alert("c")], [NoMutes(), ByInstance("b", "c")]
    )
    assert [a.labels["instance"] for a in kept] == ["a"]
    assert [a.labels["instance"] for a in muted] == ["b", "c"]


CONFIG = parse_config(
    """
route:
  receiver: team
  group_by: [alertname]
  repeat_interval: 1h
  routes:
    - matchers: ['night="yes"']
      receiver: team
      mute_time_intervals: [night]
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:9/a'}]
    email_configs:
      - {to: 'team@example.org', smarthost: 'smtp.example.org:25', from: 'am@example.org'}
"""
)
ROOT = build_route_tree(CONFIG)
TEAMS = integrations_of(CONFIG.receivers[0])


def batch(*alerts: Alert, at: datetime = T0) -> FlushBatch:
    return FlushBatch(
        ROOT.id(),
        KEY,
        "team",
        {"alertname": "X"},
        at,
        tuple(a for a in alerts if not a.resolved(at)),
        tuple(a for a in alerts if a.resolved(at)),
    )


def test_integrations_of_a_receiver_carry_their_send_resolved() -> None:
    expected = (
        Integration("team", "email", 0, send_resolved=False),
        Integration("team", "webhook", 0, send_resolved=True),
    )
    assert expected == TEAMS


def test_plan_decides_per_integration_against_its_own_log_entry() -> None:
    # One DedupStage per integration, each querying the log for its own receiver entry.
    a, b = alert("a"), alert("b", resolved=True)
    log = {
        (KEY, "team", "email[0]"): LogEntry(
            KEY,
            "team",
            "email[0]",
            frozenset({a.fingerprint, b.fingerprint}),
            frozenset(),
            T0 - 5 * M,
        ),
        (KEY, "team", "webhook[0]"): LogEntry(
            KEY,
            "team",
            "webhook[0]",
            frozenset({a.fingerprint, b.fingerprint}),
            frozenset(),
            T0 - 5 * M,
        ),
    }
    plan = plan_flush(
        batch(a, b), route=ROOT, integrations=TEAMS, intervals={}, muters=[], log=log, now=T0
    )
    reasons = {d.integration.name: d.reason for d in plan.decisions}
    assert reasons == {"email[0]": Reason.UNCHANGED, "webhook[0]": Reason.NEWLY_RESOLVED}
    assert [(d.integration.name, d.firing, d.resolved) for d in plan.notifications] == [
        ("webhook[0]", (a.fingerprint,), (b.fingerprint,))
    ]
    assert [e.integration for e in plan.log_entries] == ["webhook[0]"]


def test_plan_removes_silenced_alerts_from_the_notification() -> None:
    silence = Silence(
        "s", tuple(parse_matchers('instance="b"')), T0 - H, T0 + H, T0 - H, "me", "maintenance"
    )
    muters: list[Muter] = [SilenceMuter([silence], T0)]
    a, b = alert("a"), alert("b")
    plan = plan_flush(
        batch(a, b), route=ROOT, integrations=TEAMS, intervals={}, muters=muters, log={}, now=T0
    )
    assert plan.muted == (b.fingerprint,)
    assert {d.firing for d in plan.notifications} == {(a.fingerprint,)}
    assert all(e.firing == {a.fingerprint} for e in plan.log_entries)


def test_plan_for_an_all_muted_group_asks_no_integration() -> None:
    # MultiStage stops when a stage leaves no alerts: no send, no log entry.
    plan = plan_flush(
        batch(alert("a"), alert("b", resolved=True)),
        route=ROOT,
        integrations=TEAMS,
        intervals={},
        muters=[ByInstance("a", "b")],
        log={},
        now=T0,
    )
    assert plan.decisions == ()
    assert len(plan.muted) == 2
    assert plan.log_entries == ()


def test_plan_inside_a_mute_time_interval_sends_and_records_nothing() -> None:
    night_route = ROOT.routes[0]
    at_night = datetime(2025, 7, 22, 3, 0, tzinfo=UTC)
    b = batch(alert("a"), at=at_night)
    plan = plan_flush(
        b,
        route=night_route,
        integrations=TEAMS,
        intervals=INTERVALS,
        muters=[],
        log={},
        now=at_night,
    )
    assert (plan.time_muted, plan.decisions) == (TimeMute.MUTED, ())
    # the root route has no mute intervals: the same batch is sent there
    plan = plan_flush(
        b, route=ROOT, integrations=TEAMS, intervals=INTERVALS, muters=[], log={}, now=at_night
    )
    assert plan.time_muted is None
    assert {d.reason for d in plan.decisions} == {Reason.FIRST}
