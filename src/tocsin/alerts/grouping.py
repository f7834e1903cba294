"""Aggregation groups: the alerts that share a route and its ``group_by`` labels, and
when they are handed to the notification pipeline.

Why pure: a group's timers are future actions, and Tocsin keeps future actions as rows
with a due time (DESIGN.md, "Time is data"). So a group is a frozen :class:`GroupState`
that serializes to JSON, and every change is a function ``(state, event, now) ->
Transition(new state, actions)``. The engine stores the state, turns
:class:`ScheduleFlush` into the group's due-time row, claims that row when it is due and
calls :func:`on_flush_due`; a restart or a second replica re-reads the row instead of
relying on an in-memory timer, and a claim that arrives before the due time (a stale
row) changes nothing.

The semantics are Alertmanager's ``aggrGroup`` (``dispatch/group.go``):

* the first alert creates the group and its first flush is due ``group_wait`` later, so
  alerts that arrive meanwhile go out in the same first notification;
* until the group has flushed once, an alert whose ``starts_at + group_wait`` has
  already passed makes the flush due at once (``insert``: alerts re-sent after a restart
  do not wait again);
* every flush schedules the next one ``group_interval`` after it, whether or not a
  notification results (the ``run`` loop resets the timer before flushing), so an alert
  joining a group that has flushed waits for the next tick, not for ``group_wait``;
* a flush takes a snapshot at ``now``: alerts whose end time has passed are resolved,
  the others firing, and that split is final for the batch ("alerts don't resolve as
  time moves forwards");
* when the pipeline reports success, the snapshot's resolved alerts leave the group
  unless they were updated since (``DeleteIfNotModified``), and a group left with no
  alerts is deleted (``Alerts.Empty`` and the dispatcher's clean-up of empty groups).

Whether a flush actually notifies anyone is not decided here but in
:mod:`tocsin.alerts.notify_decision`, per receiver integration, against the notification
log. That is why ``repeat_interval`` is effectively rounded up to a tick of
``group_interval``: it is only looked at when a flush happens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from tocsin.alerts.codec import alert_from_json, alert_to_json
from tocsin.alerts.model import Alert
from tocsin.alerts.routing import RouteNode, group_key, group_labels
from tocsin.timeutil import from_micros, to_micros

__all__ = [
    "AlertReceived",
    "DeleteGroup",
    "FlushBatch",
    "FlushDue",
    "FlushSettled",
    "GroupAction",
    "GroupEvent",
    "GroupState",
    "NotifyBatch",
    "ScheduleFlush",
    "Transition",
    "apply",
    "on_alert",
    "on_alerts",
    "on_flush_due",
    "on_flush_settled",
]


# gc=False: as Alert (tocsin.alerts.model), frozen and acyclic
class GroupState(Struct, frozen=True, gc=False):
    """One aggregation group, keyed by ``(route_id, group_key)``.

    The route id, not only the group key, identifies a group: two sibling routes with
    the same matchers (the ``continue: true`` pattern) share a route key and so a group
    key, yet each has its own group and timers.
    """

    route_id: str
    group_key: str
    receiver: str
    labels: Mapping[str, str]
    alerts: Mapping[str, Alert]  # by fingerprint
    next_flush_at: datetime
    has_flushed: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.route_id, self.group_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "route_id": self.route_id,
            "group_key": self.group_key,
            "receiver": self.receiver,
            "labels": dict(self.labels),
            "alerts": [alert_to_json(self.alerts[fp]) for fp in sorted(self.alerts)],
            "next_flush_at": to_micros(self.next_flush_at),
            "has_flushed": self.has_flushed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GroupState:
        alerts = [alert_from_json(a) for a in data["alerts"]]
        return cls(
            route_id=data["route_id"],
            group_key=data["group_key"],
            receiver=data["receiver"],
            labels=dict(data["labels"]),
            alerts={a.fingerprint: a for a in alerts},
            next_flush_at=from_micros(data["next_flush_at"]),
            has_flushed=bool(data["has_flushed"]),
        )


class FlushBatch(Struct, frozen=True):
    """What one flush hands to the notification pipeline: the group's alerts split
    into firing and resolved at ``at``. Serializable, so an engine can keep it with
    the outbox rows until the sends are committed and then settle the group."""

    route_id: str
    group_key: str
    receiver: str
    labels: Mapping[str, str]
    at: datetime
    firing: tuple[Alert, ...]  # sorted by fingerprint
    resolved: tuple[Alert, ...]

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return self.firing + self.resolved

    def to_json(self) -> dict[str, Any]:
        return {
            "route_id": self.route_id,
            "group_key": self.group_key,
            "receiver": self.receiver,
            "labels": dict(self.labels),
            "at": to_micros(self.at),
            "firing": [alert_to_json(a) for a in self.firing],
            "resolved": [alert_to_json(a) for a in self.resolved],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlushBatch:
        return cls(
            route_id=data["route_id"],
            group_key=data["group_key"],
            receiver=data["receiver"],
            labels=dict(data["labels"]),
            at=from_micros(data["at"]),
            firing=tuple(alert_from_json(a) for a in data["firing"]),
            resolved=tuple(alert_from_json(a) for a in data["resolved"]),
        )


# --- events and actions ---------------------------------------------------------------


class AlertReceived(Struct, frozen=True):
    """A new version of an alert (as the alert store holds it after merging) reached
    this group's route."""

    alert: Alert


class FlushDue(Struct, frozen=True):
    """The group's due-time row was claimed."""


class FlushSettled(Struct, frozen=True):
    """The pipeline finished with ``batch``: ``delivered`` is Alertmanager's "notify
    succeeded" (sent, deduplicated away, or muted all count as success)."""

    batch: FlushBatch
    delivered: bool


GroupEvent = AlertReceived | FlushDue | FlushSettled


class ScheduleFlush(Struct, frozen=True, gc=False):
    """Set the group's due-time row to ``due_at`` (one row per group: upsert)."""

    route_id: str
    group_key: str
    due_at: datetime


class NotifyBatch(Struct, frozen=True):
    """Run the notification decision and sends for ``batch``, then settle it."""

    batch: FlushBatch


class DeleteGroup(Struct, frozen=True):
    """Drop the group's state and its due-time row."""

    route_id: str
    group_key: str


GroupAction = ScheduleFlush | NotifyBatch | DeleteGroup


class Transition(Struct, frozen=True, gc=False):
    """The state after an event (None: the group no longer exists) and what to do."""

    state: GroupState | None
    actions: tuple[GroupAction, ...] = ()


# --- transitions -------------------------------------------------------------------------


def on_alert(
    state: GroupState | None,
    alert: Alert,
    now: datetime,
    route: RouteNode,
    key: str | None = None,
) -> Transition:
    """Insert (or replace, by fingerprint) ``alert`` into its group on ``route``.

    ``state`` is None when the group does not exist yet; the alert then creates it,
    with its first flush ``group_wait`` from ``now``. ``key``: the alert's group key,
    when the caller has computed it already (it is checked otherwise).
    """
    key = group_key(route, alert.labels) if key is None else key
    if state is None:
        # A new group: its first flush is group_wait away, or due at once for an alert
        # that started longer than group_wait ago. (Built in one go: this runs for every
        # alert of a storm whose alerts are each their own group.)
        due = now + route.group_wait
        if alert.starts_at + route.group_wait < now:
            due = now
        created = GroupState(
            route_id=route.id(),
            group_key=key,
            receiver=route.receiver,
            labels=group_labels(route, alert.labels),
            alerts={alert.fingerprint: alert},
            next_flush_at=due,
            has_flushed=False,
        )
        return Transition(created, (ScheduleFlush(created.route_id, key, due),))
    if state.route_id != route.id() or state.group_key != key:
        raise ValueError(f"alert {alert.fingerprint} belongs to group {key}, not {state.group_key}")
    due = state.next_flush_at
    if not state.has_flushed and alert.starts_at + route.group_wait < now:
        due = min(due, now)
    new = replace(state, alerts={**state.alerts, alert.fingerprint: alert}, next_flush_at=due)
    if due != state.next_flush_at:
        return Transition(new, (ScheduleFlush(new.route_id, new.group_key, due),))
    return Transition(new)


def on_alerts(
    state: GroupState | None,
    alerts: Sequence[tuple[Alert, datetime]],
    route: RouteNode,
    key: str | None = None,
) -> Transition:
    """:func:`on_alert` for several ``(alert, received at)`` of one group, in order.

    Same result as applying :func:`on_alert` to each in turn, but the group's alert map
    is copied once, not once per alert: under an alert storm into one group, the
    per-alert copy would make ingestion quadratic in the group's size. ``key``: the
    group key the caller computed for all of them (checked per alert otherwise).
    """
    if not alerts:
        return Transition(state)
    first, first_at = alerts[0]
    created = state is None
    before = None if state is None else state.next_flush_at
    t = on_alert(state, first, first_at, route, key)
    assert t.state is not None
    current = t.state
    due = current.next_flush_at
    added: dict[str, Alert] = {}
    for alert, at in alerts[1:]:
        found = group_key(route, alert.labels) if key is None else key
        if found != current.group_key:
            raise ValueError(f"alert {alert.fingerprint} belongs to group {found}")
        if not current.has_flushed and alert.starts_at + route.group_wait < at:
            due = min(due, at)
        added[alert.fingerprint] = alert
    if added:
        current = replace(current, alerts={**current.alerts, **added}, next_flush_at=due)
    if created or due != before:
        return Transition(current, (ScheduleFlush(current.route_id, current.group_key, due),))
    return Transition(current)


def on_flush_due(state: GroupState, now: datetime, route: RouteNode) -> Transition:
    """The due-time row was claimed at ``now``: take the snapshot and schedule the next tick.

    A claim before ``next_flush_at`` (a stale or duplicate row) does nothing, which is
    what makes a second replica or a replayed row harmless.
    """
    if now < state.next_flush_at:
        return Transition(state)
    if not state.alerts:  # not reachable through these functions; clean up regardless
        return Transition(None, (DeleteGroup(state.route_id, state.group_key),))
    new = replace(state, next_flush_at=now + route.group_interval, has_flushed=True)
    ordered = [state.alerts[fp] for fp in sorted(state.alerts)]
    batch = FlushBatch(
        route_id=state.route_id,
        group_key=state.group_key,
        receiver=state.receiver,
        labels=state.labels,
        at=now,
        firing=tuple(a for a in ordered if not a.resolved(now)),
        resolved=tuple(a for a in ordered if a.resolved(now)),
    )
    return Transition(
        new, (ScheduleFlush(new.route_id, new.group_key, new.next_flush_at), NotifyBatch(batch))
    )


def on_flush_settled(state: GroupState, batch: FlushBatch, delivered: bool) -> Transition:
    """Forget the resolved alerts ``batch`` notified about; delete the group if empty.

    After a failed delivery nothing is forgotten, so the next tick tries again. An
    alert updated since the snapshot (it fired again, or was re-sent) stays: deleting
    it would lose an update the receiver has not heard about.
    """
    if (batch.route_id, batch.group_key) != state.key:
        raise ValueError(f"batch of group {batch.group_key} settled on group {state.group_key}")
    if not delivered:
        return Transition(state)
    if not batch.resolved:
        return Transition(state)  # the very same state: callers may compare by identity
    alerts = dict(state.alerts)
    for sent in batch.resolved:
        held = alerts.get(sent.fingerprint)
        if held is not None and held.updated_at == sent.updated_at:
            del alerts[sent.fingerprint]
    if not alerts:
        return Transition(None, (DeleteGroup(state.route_id, state.group_key),))
    return Transition(replace(state, alerts=alerts))


def apply(
    state: GroupState | None, event: GroupEvent, now: datetime, route: RouteNode
) -> Transition:
    """One entry point for an engine that queues events: dispatch on the event type.

    ``now`` is ignored by :class:`FlushSettled` (settling is about the batch's own time).
    """
    if isinstance(event, AlertReceived):
        return on_alert(state, event.alert, now, route)
    if state is None:
        return Transition(None)  # the group is gone: a late flush or settle has nothing to do
    if isinstance(event, FlushDue):
        return on_flush_due(state, now, route)
    return on_flush_settled(state, event.batch, event.delivered)
