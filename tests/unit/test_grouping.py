"""Aggregation-group transitions, one row per behaviour of Alertmanager's ``aggrGroup``
(``dispatch/group.go``: newAggrGroup, insert, run, flush) and the group_wait /
group_interval paragraphs of ``docs/configuration.md``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from msgspec.structs import replace

from tocsin.alerts.grouping import (
    AlertReceived,
    DeleteGroup,
    FlushBatch,
    FlushDue,
    FlushSettled,
    GroupState,
    NotifyBatch,
    ScheduleFlush,
    Transition,
    apply,
    on_alert,
    on_flush_due,
    on_flush_settled,
)
from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert
from tocsin.alerts.routing import build_route_tree, match
from tocsin.config import parse_config

T0 = datetime(2025, 7, 22, 10, 0, tzinfo=UTC)
S, M = timedelta(seconds=1), timedelta(minutes=1)
NEVER = T0 + timedelta(days=365)

ROOT = build_route_tree(
    parse_config(
        """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: ['...']
receivers: [{name: team}, {name: db}]
"""
    )
)


def alert(
    instance: str,
    *,
    starts: datetime = T0,
    ends: datetime = NEVER,
    updated: datetime | None = None,
    name: str = "X",
) -> Alert:
    labels = {"alertname": name, "instance": instance}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": instance},
        starts_at=starts,
        ends_at=ends,
        generator_url="http://prometheus/graph",
        updated_at=updated if updated is not None else starts,
        timeout=False,
    )


def created(a: Alert, now: datetime = T0) -> GroupState:
    state = on_alert(None, a, now, ROOT).state
    assert state is not None
    return state


def inserted(state: GroupState, a: Alert, now: datetime) -> GroupState:
    new = on_alert(state, a, now, ROOT).state
    assert new is not None
    return new


def batch_of(t: Transition) -> FlushBatch:
    batches = [a.batch for a in t.actions if isinstance(a, NotifyBatch)]
    assert len(batches) == 1
    return batches[0]


def names(alerts: tuple[Alert, ...]) -> list[str]:
    return sorted(a.labels["instance"] for a in alerts)


# --- group_wait -------------------------------------------------------------------------


def test_first_alert_creates_the_group_with_its_flush_group_wait_later() -> None:
    # newAggrGroup: "an initial one-time wait before flushing the first batch".
    t = on_alert(None, alert("a"), T0, ROOT)
    assert t.state is not None
    assert t.state.next_flush_at == T0 + 30 * S
    assert t.state.group_key == '{}:{alertname="X"}'
    assert t.state.route_id == ROOT.id()
    assert t.state.receiver == "team"
    assert t.state.labels == {"alertname": "X"}
    assert t.actions == (ScheduleFlush(ROOT.id(), t.state.group_key, T0 + 30 * S),)


def test_a_claim_before_the_due_time_changes_nothing() -> None:
    # A stale or duplicated due-time row (restart, second replica) must not flush early.
    state = created(alert("a"))
    t = on_flush_due(state, T0 + 29 * S, ROOT)
    assert t == Transition(state)


def test_alerts_added_during_group_wait_are_in_the_first_flush() -> None:
    # docs: group_wait "allows to wait for alerts to arrive ... before the first notification".
    state = created(alert("a"))
    t = on_alert(state, alert("b", starts=T0 + 20 * S), T0 + 20 * S, ROOT)
    assert t.actions == ()  # the due time does not move
    assert t.state is not None
    flushed = on_flush_due(t.state, T0 + 30 * S, ROOT)
    assert names(batch_of(flushed).firing) == ["a", "b"]


def test_an_old_alert_into_a_never_flushed_group_makes_the_flush_due_now() -> None:
    # insert(): "Immediately trigger a flush if the wait duration for this alert is
    # already over" (alerts re-sent after a restart do not wait group_wait again).
    t = on_alert(None, alert("a", starts=T0 - 5 * M), T0, ROOT)
    assert t.state is not None
    assert t.state.next_flush_at == T0
    assert t.actions == (ScheduleFlush(ROOT.id(), t.state.group_key, T0),)


def test_the_acceleration_is_strict() -> None:
    # startsAt + group_wait must be *before* now; exactly now does not accelerate.
    t = on_alert(None, alert("a", starts=T0 - 30 * S), T0, ROOT)
    assert t.state is not None
    assert t.state.next_flush_at == T0 + 30 * S


# --- group_interval -----------------------------------------------------------------------


def test_each_flush_schedules_the_next_group_interval_later() -> None:
    # run(): the timer is reset to group_interval before flushing.
    state = created(alert("a"))
    t = on_flush_due(state, T0 + 30 * S, ROOT)
    assert t.state is not None
    assert t.state.has_flushed
    assert t.state.next_flush_at == T0 + 30 * S + 5 * M
    assert t.actions[0] == ScheduleFlush(ROOT.id(), state.group_key, T0 + 30 * S + 5 * M)


def test_a_new_alert_in_a_flushed_group_waits_for_the_next_tick() -> None:
    # docs: "A notification for any alerts that missed the initial group_wait will be
    # sent at the next group_interval instead" -- even an old alert does not accelerate.
    state = on_flush_due(created(alert("a")), T0 + 30 * S, ROOT).state
    assert state is not None
    late = alert("b", starts=T0 - 10 * M)
    t = on_alert(state, late, T0 + 2 * M, ROOT)
    assert t.actions == ()
    assert t.state is not None
    assert t.state.next_flush_at == T0 + 30 * S + 5 * M


# --- the snapshot and settling ---------------------------------------------------------------


def test_the_flush_splits_firing_and_resolved_at_its_own_time() -> None:
    # flush(): ResolvedAt(now) decides; an alert ending exactly now is resolved.
    state = created(alert("a"))
    state = replace(
        state,
        alerts={
            **state.alerts,
            **{
                x.fingerprint: x
                for x in (
                    alert("b", ends=T0 + 30 * S),
                    alert("c", ends=T0 + 31 * S),
                )
            },
        },
    )
    b = batch_of(on_flush_due(state, T0 + 30 * S, ROOT))
    assert names(b.firing) == ["a", "c"]
    assert names(b.resolved) == ["b"]
    assert b.at == T0 + 30 * S
    assert (b.group_key, b.receiver) == (state.group_key, "team")


def test_settling_forgets_notified_resolved_alerts_and_keeps_firing_ones() -> None:
    # flush(): after a successful notify, DeleteIfNotModified(resolved).
    state = inserted(created(alert("a")), alert("b", ends=T0 + 10 * S), T0 + 10 * S)
    flushed = on_flush_due(state, T0 + 30 * S, ROOT)
    assert flushed.state is not None
    settled = on_flush_settled(flushed.state, batch_of(flushed), delivered=True)
    assert settled.state is not None
    assert names(tuple(settled.state.alerts.values())) == ["a"]
    assert settled.actions == ()


def test_a_group_left_empty_is_deleted() -> None:
    # Empty groups are removed after a flush (Alerts.Empty / destroyIfEmpty).
    state = created(alert("a", ends=T0 + 10 * S))
    flushed = on_flush_due(state, T0 + 30 * S, ROOT)
    assert flushed.state is not None
    settled = on_flush_settled(flushed.state, batch_of(flushed), delivered=True)
    assert settled == Transition(None, (DeleteGroup(ROOT.id(), state.group_key),))


def test_an_alert_updated_since_the_snapshot_is_kept() -> None:
    # DeleteIfNotModified: the alert fired again during the flush; deleting it would
    # lose an update the receiver has not heard of.
    state = created(alert("a", ends=T0 + 10 * S))
    flushed = on_flush_due(state, T0 + 30 * S, ROOT)
    assert flushed.state is not None
    refired = alert("a", ends=NEVER, updated=T0 + 31 * S)
    again = on_alert(flushed.state, refired, T0 + 31 * S, ROOT).state
    assert again is not None
    settled = on_flush_settled(again, batch_of(flushed), delivered=True)
    assert settled.state is not None
    assert list(settled.state.alerts.values()) == [refired]


def test_a_failed_delivery_forgets_nothing() -> None:
    # flush(): resolved alerts are deleted only `if notify(...)` succeeded.
    state = created(alert("a", ends=T0 + 10 * S))
    flushed = on_flush_due(state, T0 + 30 * S, ROOT)
    assert flushed.state is not None
    assert on_flush_settled(flushed.state, batch_of(flushed), delivered=False) == Transition(
        flushed.state
    )


def test_grouping_by_all_labels_gives_each_label_set_its_own_group() -> None:
    # docs: group_by: ['...'] "effectively disables aggregation entirely".
    db = match(ROOT, {"alertname": "X", "team": "db", "instance": "a"})
    assert len(db) == 1
    node = db[0]
    a = on_alert(None, replace(alert("a"), labels={"alertname": "X", "team": "db"}), T0, node)
    b = on_alert(
        None, replace(alert("b"), labels={"alertname": "X", "team": "db", "i": "b"}), T0, node
    )
    assert a.state is not None
    assert b.state is not None
    assert a.state.group_key != b.state.group_key
    assert b.state.labels == {"alertname": "X", "team": "db", "i": "b"}


def test_an_alert_of_another_group_is_refused() -> None:
    state = created(alert("a"))
    with pytest.raises(ValueError, match="belongs to group"):
        on_alert(state, alert("z", name="Other"), T0, ROOT)


def test_a_batch_of_another_group_is_refused() -> None:
    state = created(alert("a"))
    other = created(alert("z", name="Other"))
    batch = batch_of(on_flush_due(other, T0 + 30 * S, ROOT))
    with pytest.raises(ValueError, match="settled on group"):
        on_flush_settled(state, batch, delivered=True)


# --- the engine's entry point and persistence -----------------------------------------------


def test_apply_dispatches_each_event() -> None:
    t = apply(None, AlertReceived(alert("a", ends=T0 + 10 * S)), T0, ROOT)
    assert t.state is not None
    assert apply(t.state, FlushDue(), T0 + 10 * S, ROOT) == Transition(t.state)
    flushed = apply(t.state, FlushDue(), T0 + 30 * S, ROOT)
    assert flushed.state is not None
    settled = apply(flushed.state, FlushSettled(batch_of(flushed), True), T0 + 31 * S, ROOT)
    assert settled.state is None
    # A late flush or settle for a group that is gone does nothing.
    assert apply(None, FlushDue(), T0 + 40 * S, ROOT) == Transition(None)
    assert apply(None, FlushSettled(batch_of(flushed), True), T0 + 40 * S, ROOT) == Transition(None)


def test_state_and_batch_survive_a_json_round_trip() -> None:
    state = created(alert("a", starts=T0 - 123456 * timedelta(microseconds=1)))
    state = inserted(state, alert("b", ends=T0 + 10 * S), T0 + 5 * S)
    encoded = json.dumps(state.to_json())
    assert GroupState.from_json(json.loads(encoded)) == state
    flushed = on_flush_due(state, T0 + 30 * S, ROOT)
    batch = batch_of(flushed)
    assert FlushBatch.from_json(json.loads(json.dumps(batch.to_json()))) == batch
    # and the decoded batch still settles (updated_at compared exactly)
    assert flushed.state is not None
    restored = GroupState.from_json(json.loads(json.dumps(flushed.state.to_json())))
    settled = on_flush_settled(restored, FlushBatch.from_json(batch.to_json()), delivered=True)
    assert settled.state is not None
    assert names(tuple(settled.state.alerts.values())) == ["a"]
