"""The dispatcher: committed alerts -> aggregation groups -> flushes -> the outbox.

Groups live in memory, derived from the alert store by routing (as in Alertmanager's
dispatcher); what must survive a restart and be shared by replicas is stored: each
group's timer (when it flushes next, whether it has flushed) and the notification log.
A flush is one writer op (``tocsin.core.dispatch_ops.Flush``) that claims the timer
row, decides and commits the notifications to the outbox, so a group is flushed by one
replica only, and a crash either loses the whole flush (it is redone) or none of it.

All decisions are the pure functions of ``tocsin.alerts.grouping`` and
``tocsin.alerts.notify_decision``; this module only feeds them and stores their output.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import queue
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from tocsin.alerts.grouping import (
    DeleteGroup,
    FlushBatch,
    GroupState,
    NotifyBatch,
    on_alerts,
    on_flush_due,
    on_flush_settled,
)
from tocsin.alerts.model import Alert
from tocsin.alerts.mutes import Muter
from tocsin.alerts.notify_decision import (
    FlushPlan,
    LogEntry,
    LogKey,
    integrations_of,
    plan_flush,
)
from tocsin.alerts.routing import RouteNode, group_key, match
from tocsin.alerts.timeintervals import TimeInterval
from tocsin.config.receivers import Receiver
from tocsin.core.dispatch_ops import Flush, FlushMany, FlushResult, SaveTimers
from tocsin.engine.loop import KickedLoop
from tocsin.notify.message import Notification
from tocsin.notify.outbox import OutboxItem, new_item
from tocsin.store.group_rows import GroupTimer
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock, to_micros

log = logging.getLogger(__name__)

GroupId = tuple[str, str]  # (route id, group key)


class Routing(Protocol):
    """What the dispatcher needs of the loaded configuration."""

    root: RouteNode

    def receiver(self, name: str) -> Receiver | None: ...

    def time_intervals(self) -> Mapping[str, Sequence[TimeInterval]]: ...

    def inhibitor(self, firing: Iterable[Alert]) -> Muter: ...


class AlertSource(Protocol):
    """What the dispatcher needs of the alert store."""

    def all_alerts(self) -> list[Alert]: ...

    def silencer(self, now: datetime) -> Muter: ...

    def firing(self, now: datetime) -> list[Alert]: ...


@dataclass
class DispatchSettings:
    tick: timedelta = timedelta(milliseconds=200)  # the longest sleep between looks
    lease: timedelta = timedelta(seconds=30)
    # On start, resolved alerts older than this are not put back into groups: their
    # resolution was either notified before the restart or is of no use any more.
    replay_resolved: timedelta = timedelta(hours=1)
    external_url: str = ""


@dataclass
class _Pending:
    alerts: queue.SimpleQueue[Alert] = field(default_factory=queue.SimpleQueue)


class Dispatcher:
    def __init__(
        self,
        writer: GroupCommitter,
        load_timers: Callable[[], list[GroupTimer]],
        clock: Clock,
        alerts: AlertSource,
        routing: Callable[[], Routing],
        on_enqueued: Callable[[], None],
        settings: DispatchSettings | None = None,
        runbook: Callable[[Alert], Mapping[str, Any] | None] = lambda alert: None,
        on_flushed: Callable[[list[tuple[FlushBatch, FlushPlan]]], Awaitable[None]] | None = None,
    ) -> None:
        self._writer = writer
        self._load_timers = load_timers
        self._clock = clock
        self._alerts = alerts
        self._routing = routing
        self._on_enqueued = on_enqueued
        self._runbook = runbook
        self._on_flushed = on_flushed
        self.settings = settings or DispatchSettings()
        self.groups: dict[GroupId, GroupState] = {}
        self._due: list[tuple[datetime, GroupId]] = []  # heap of (due time, group)
        self._routes: dict[str, RouteNode] = {}
        self._pending = _Pending()
        self._loop = KickedLoop("dispatch")
        self._rebuild = True
        self.flushes = 0

    # -- feeding (any thread) -------------------------------------------------------

    def on_alerts(self, alerts: Iterable[Alert]) -> None:
        """New versions of alerts were committed (here or by another replica)."""
        for a in alerts:
            self._pending.alerts.put(a)
        self._kick()

    def reload(self) -> None:
        """The configuration changed: rebuild every group from the alerts, as
        Alertmanager rebuilds its dispatcher on reload."""
        self._rebuild = True
        self._kick()

    def _kick(self) -> None:
        self._loop.kick()

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        await self._loop.run(self.step, self._sleep_seconds)

    async def step(self) -> None:
        """One round: take in new alerts, flush what is due."""
        now = self._clock()
        if self._rebuild:
            await self._rebuild_groups(now)
        self._take_pending(now)
        due = self._pop_due(now)
        if due:
            await self._flush_all(due, now)

    def _set(self, gid: GroupId, state: GroupState) -> None:
        """Keep a group; a new or moved due time goes on the heap (old entries are
        skipped when popped), so finding due groups never scans all of them."""
        old = self.groups.get(gid)
        self.groups[gid] = state
        if old is None or old.next_flush_at != state.next_flush_at:
            heapq.heappush(self._due, (state.next_flush_at, gid))

    def _pop_due(self, now: datetime) -> list[GroupState]:
        due: dict[GroupId, GroupState] = {}
        while self._due and self._due[0][0] <= now:
            at, gid = heapq.heappop(self._due)
            state = self.groups.get(gid)
            if state is not None and state.next_flush_at == at:
                due[gid] = state
        return list(due.values())

    def _sleep_seconds(self) -> float:
        now = self._clock()
        while self._due and self.groups.get(self._due[0][1]) is None:
            heapq.heappop(self._due)  # a group that is gone
        tick = self.settings.tick.total_seconds()
        if not self._due:
            return tick
        return max(0.0, min(tick, (self._due[0][0] - now).total_seconds()))

    async def _rebuild_groups(self, now: datetime) -> None:
        self._rebuild = False
        routing = self._routing()
        self._routes = {node.id(): node for node in routing.root.walk()}
        self.groups = {}
        self._due = []
        horizon = now - self.settings.replay_resolved
        replay = [
            a for a in self._alerts.all_alerts() if not a.resolved(now) or a.ends_at > horizon
        ]
        self._insert_all(replay, now, routing.root)
        timers = await asyncio.to_thread(self._load_timers)
        stored = {(t.route_id, t.group_key): t for t in timers}
        for gid, state in list(self.groups.items()):
            t = stored.get(gid)
            if t is not None:
                # A restart keeps the group's rhythm: the stored due time, not a new wait.
                self._set(gid, _with_timer(state, t))
        stale = [gid for gid in stored if gid not in self.groups]
        if stale:
            await self._writer.run(SaveTimers([], stale))

    def _take_pending(self, now: datetime) -> None:
        alerts: list[Alert] = []
        while True:
            try:
                alerts.append(self._pending.alerts.get_nowait())
            except queue.Empty:
                break
        if alerts:
            self._insert_all(alerts, now, self._routing().root)

    def _insert_all(self, alerts: Iterable[Alert], now: datetime, root: RouteNode) -> None:
        """Route alerts into their groups, one update per group.

        A group sees an alert when Tocsin received it, not when this loop got to it:
        group_wait counts from the receipt, however busy the loop was. Group timers are
        not written here: until a group's first flush its due time follows from its
        alerts, so a restart computes the same one; the flush writes the next.
        """
        by_group: dict[GroupId, tuple[RouteNode, list[tuple[Alert, datetime]]]] = {}
        for a in alerts:
            for node in match(root, a.labels):
                gid = (node.id(), group_key(node, a.labels))
                by_group.setdefault(gid, (node, []))[1].append((a, min(now, a.updated_at)))
        for gid, (node, items) in by_group.items():
            t = on_alerts(self.groups.get(gid), items, node)
            assert t.state is not None
            self._set(gid, t.state)

    def _muters(self, now: datetime) -> list[Muter]:
        firing = self._alerts.firing(now)
        return [self._alerts.silencer(now), self._routing().inhibitor(firing)]

    async def _flush_all(self, due: list[GroupState], now: datetime) -> None:
        routing = self._routing()
        intervals = routing.time_intervals()
        muters = self._muters(now)
        prepared: list[tuple[GroupState | None, Flush]] = []
        gone: list[GroupId] = []
        for group in due:
            found = self._prepare(group, now, muters, routing, intervals)
            if found is None:
                gone.append(group.key)
                self.groups.pop(group.key, None)
            else:
                prepared.append(found)
        results: list[FlushResult] = []
        if prepared:
            results = await self._writer.run(FlushMany([f for _, f in prepared]))
        lost: list[GroupId] = []
        enqueued = False
        flushed: list[tuple[FlushBatch, FlushPlan]] = []
        for (settled, op), result in zip(prepared, results, strict=True):
            gid = (op.route_id, op.group_key)
            if not result.claimed:
                lost.append(gid)
                continue
            self.flushes += 1
            if result.plan is not None:
                flushed.append((result.plan.batch, result.plan))
            enqueued = enqueued or bool(result.items)
            if settled is None:
                self.groups.pop(gid, None)
            else:
                self._set(gid, settled)
        if gone:
            await self._writer.run(SaveTimers([], gone))
        if lost:
            await self._adopt_stored_timers(lost)
        if enqueued:
            self._on_enqueued()
        if flushed and self._on_flushed is not None:
            await self._on_flushed(flushed)

    def _prepare(
        self,
        group: GroupState,
        now: datetime,
        muters: Sequence[Muter],
        routing: Routing,
        intervals: Mapping[str, Sequence[TimeInterval]],
    ) -> tuple[GroupState | None, Flush] | None:
        """The flush op for a due group and the state it leaves (None: the group is
        done), or None when the group has no route or receiver any more."""
        route = self._routes.get(group.route_id)
        receiver = routing.receiver(group.receiver)
        if route is None or receiver is None:
            return None
        t = on_flush_due(group, now, route)
        batch = next((a.batch for a in t.actions if isinstance(a, NotifyBatch)), None)
        if t.state is None or batch is None:
            return None
        integrations = integrations_of(receiver)

        def planner(entries: Mapping[LogKey, LogEntry]) -> tuple[FlushPlan, list[OutboxItem]]:
            plan = plan_flush(
                batch,
                route=route,
                integrations=integrations,
                intervals=intervals,
                muters=muters,
                log=entries,
                now=now,
            )
            return plan, self._items(plan, now)

        # Settling is pure and known now; it is applied only if the claim succeeds.
        settled = on_flush_settled(t.state, batch, delivered=True)
        done = settled.state is None or any(isinstance(a, DeleteGroup) for a in settled.actions)
        after = None if done else settled.state
        timer = None if after is None else self._timer(after)
        lease = now + self.settings.lease
        op = Flush(group.route_id, group.group_key, group.receiver, now, lease, planner, timer)
        return after, op

    async def _adopt_stored_timers(self, gids: list[GroupId]) -> None:
        """Another replica flushed these groups (or holds them): follow their timers."""
        stored = {(t.route_id, t.group_key): t for t in await asyncio.to_thread(self._load_timers)}
        soonest = self._clock() + self.settings.tick
        for gid in gids:
            t = stored.get(gid)
            state = self.groups.get(gid)
            if state is None:
                continue
            if t is None:  # the other replica finished the group
                del self.groups[gid]
            else:
                self._set(gid, _with_timer(state, t, max(t.next_flush_at, soonest)))

    def _items(self, plan: FlushPlan, now: datetime) -> list[OutboxItem]:
        batch = plan.batch
        by_fp = {a.fingerprint: a for a in batch.alerts}
        stamp = to_micros(now)
        items: list[OutboxItem] = []
        extra: dict[str, Mapping[str, Any]] = {}
        for a in batch.alerts:
            found = self._runbook(a)
            if found:
                extra[a.fingerprint] = found
                by_fp[a.fingerprint] = with_runbook_annotations(a, found)
        for d in plan.notifications:
            alerts = tuple(by_fp[fp] for fp in (*d.firing, *d.resolved))
            note = Notification(
                receiver=batch.receiver,
                group_key=batch.group_key,
                group_labels=batch.labels,
                alerts=alerts,
                now=now,
                external_url=self.settings.external_url,
                idempotency_key=f"{batch.group_key}/{batch.receiver}/{stamp}",
                extra=extra,
            )
            items.append(new_item(str(uuid.uuid4()), batch.receiver, d.integration.name, note, now))
        return items

    @staticmethod
    def _timer(state: GroupState) -> GroupTimer:
        return GroupTimer(
            state.route_id, state.group_key, state.receiver, state.next_flush_at, state.has_flushed
        )


def with_runbook_annotations(a: Alert, runbook: Mapping[str, Any]) -> Alert:
    """The alert as notified: its linked runbook in annotations, so that even a plain
    webhook receiver (which sees no ``extra``) gets the link and the first steps. An
    annotation the alert already has is never overwritten."""
    added: dict[str, str] = {"runbook_url": str(runbook["runbook_url"])}
    steps = runbook.get("runbook_steps")
    if steps:
        added["runbook_steps"] = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    if runbook.get("severity"):
        added["runbook_severity"] = str(runbook["severity"])
    return replace(a, annotations={**added, **a.annotations})


def _with_timer(state: GroupState, t: GroupTimer, due: datetime | None = None) -> GroupState:
    return replace(state, next_flush_at=due or t.next_flush_at, has_flushed=t.has_flushed)
