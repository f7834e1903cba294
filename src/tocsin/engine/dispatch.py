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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from msgspec.structs import replace

from tocsin.alerts.grouping import (
    DeleteGroup,
    FlushBatch,
    GroupState,
    NotifyBatch,
    on_alerts,
    on_flush_due,
    on_flush_settled,
)
from tocsin.alerts.inhibit import InhibitRule
from tocsin.alerts.model import Alert, in_notification_order
from tocsin.alerts.mutes import Muter, SilenceMuter
from tocsin.alerts.notify_decision import (
    FlushPlan,
    Integration,
    LogEntry,
    LogKey,
    integrations_of,
    plan_flush,
)
from tocsin.alerts.routing import RouteNode, group_key, match
from tocsin.alerts.timeintervals import TimeInterval
from tocsin.config.receivers import Receiver
from tocsin.core.dispatch_ops import CheckReachable, DeleteTimers, Flush, FlushMany, FlushResult
from tocsin.engine.loop import IDLE, KickedLoop
from tocsin.notify.message import Notification, with_runbook_annotations
from tocsin.notify.outbox import OutboxItem, new_item
from tocsin.outage import Outage
from tocsin.store.group_rows import GroupId, GroupTimer
from tocsin.store.writer import GroupCommitter
from tocsin.timeutil import Clock, to_micros

log = logging.getLogger(__name__)

# Groups flushed per transaction. Every write transaction holds the revision counter's
# lock, which all writers of all replicas wait on (``store.revisions``): a storm's
# thousands of due groups in one transaction held ingestion on every replica for
# minutes. In chunks, alerts and acknowledgements get in between; a chunk still
# amortizes its commit over hundreds of groups.
FLUSH_CHUNK = 256


class Routing(Protocol):
    """What the dispatcher needs of the loaded configuration."""

    root: RouteNode

    @property
    def rules(self) -> Sequence[InhibitRule]: ...

    def receiver(self, name: str) -> Receiver | None: ...

    def time_intervals(self) -> Mapping[str, Sequence[TimeInterval]]: ...

    def inhibitor(self, firing: Iterable[Alert]) -> Muter: ...


class AlertSource(Protocol):
    """What the dispatcher needs of the alert store."""

    def all_alerts(self) -> list[Alert]: ...

    def silencer(self, now: datetime) -> Muter: ...

    def firing(self, now: datetime) -> list[Alert]: ...

    def alert(self, fingerprint: str) -> Alert | None: ...


@dataclass
class DispatchSettings:
    tick: timedelta = timedelta(milliseconds=200)  # the longest sleep between looks
    lease: timedelta = timedelta(seconds=30)
    # On start, resolved alerts older than this are not put back into groups: their
    # resolution was either notified before the restart or is of no use any more.
    replay_resolved: timedelta = timedelta(hours=1)
    external_url: str = ""
    # Set when ``on_enqueued`` hands the flushed items to a delivery worker that sends
    # them at once: they are committed leased to this process for this long (so no
    # other worker claims them meanwhile), instead of unleased for any worker to claim.
    handoff_lease: timedelta | None = None


@dataclass(frozen=True, slots=True)
class _Quiet:
    """A group known to flush to nothing while it holds these very alerts, before
    ``until``, under these silences and this cached log."""

    alerts: Mapping[str, Alert]
    until: datetime
    silences: frozenset[str]
    log: Mapping[LogKey, LogEntry]


@dataclass
class _Due:
    """A due group's flush: the op that stores it, the state it leaves, and the pure
    decision it makes from a given log."""

    group: GroupState
    route: RouteNode
    after: GroupState | None
    op: Flush
    plan: Callable[[Mapping[LogKey, LogEntry]], FlushPlan]

    @property
    def gid(self) -> GroupId:
        return self.group.key

    def precheck(self, log: Mapping[LogKey, LogEntry] | None) -> FlushPlan | None:
        """The plan, if this log (the cached one) says the flush writes nothing at
        all; None when it must go to the database (unknown log, or a send)."""
        if log is None:
            return None
        plan = self.plan(log)
        return None if plan.notifications or plan.log_entries else plan


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
        on_enqueued: Callable[[Sequence[OutboxItem]], None],
        settings: DispatchSettings | None = None,
        runbook: Callable[[Alert], Mapping[str, Any] | None] = lambda alert: None,
        on_flushed: Callable[[list[tuple[FlushBatch, FlushPlan]]], Awaitable[None]] | None = None,
        changed_logs: Callable[[int, Sequence[int]], list[tuple[str, int]]] | None = None,
    ) -> None:
        self._writer = writer
        self._load_timers = load_timers
        self._clock = clock
        self._alerts = alerts
        self._routing = routing
        self._on_enqueued = on_enqueued
        self._runbook = runbook
        self._on_flushed = on_flushed
        # Without a way to see other replicas' flushes every flush reads the database;
        # with one, the notification log of each group is cached here and a flush that
        # would send nothing needs no transaction (most re-flushes of a storm's groups).
        self._changed_logs = changed_logs
        self._logs: dict[str, Mapping[LogKey, LogEntry]] = {}  # by group key
        self._own_revs: set[int] = set()
        self._synced_rev = 0
        self._synced_at = datetime.min.replace(tzinfo=UTC)
        self._integrations_of: dict[str, tuple[Receiver, tuple[Integration, ...]]] = {}
        self._quiet: dict[GroupId, _Quiet] = {}
        self.settings = settings or DispatchSettings()
        self.groups: dict[GroupId, GroupState] = {}
        self._due: list[tuple[datetime, GroupId]] = []  # heap of (due time, group)
        self._routes: dict[str, RouteNode] = {}
        self._pending = _Pending()
        self.loop = KickedLoop("dispatch")
        # reading other replicas' notification log changes (a tick apart) in an outage
        self._sync_outage = Outage(log, "reading the notification log's changes")
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
        self.loop.kick()

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        await self.loop.run(self.step, self._sleep_seconds)

    async def step(self) -> str | None:
        """One round: take in new alerts, flush what is due. ``IDLE``: it touched no
        database (nothing was due, or each due group was decided from the cache), so
        it cannot say whether the database works; after a failed round, an idle one
        asks it (``CheckReachable``), so that the loop is not called failing for good."""
        now = self._clock()
        rebuilt = self._rebuild
        if rebuilt:
            await self._rebuild_groups(now)
        self._take_pending(now)
        due = self._pop_due(now)
        touched = rebuilt
        if due:
            try:
                touched = await self._flush_all(due, now) or touched
            except BaseException:
                self._retry_later(due, now)
                raise
        if not touched and self.loop.failing:
            await self._writer.run(CheckReachable())
            touched = True
        return None if touched else IDLE

    def _retry_later(self, due: list[GroupState], now: datetime) -> None:
        """A round failed: its groups were taken off the heap, and those it did not get
        to must go back on it, or they would never flush again (a new alert does not
        move the due time of a group that has flushed before)."""
        retry_at = now + self.settings.tick
        for group in due:
            if self.groups.get(group.key) is group:  # untouched by the failed round
                self._set(group.key, replace(group, next_flush_at=retry_at))

    def _set(self, gid: GroupId, state: GroupState) -> None:
        """Keep a group; a new or moved due time goes on the heap (old entries are
        skipped when popped), so finding due groups never scans all of them."""
        old = self.groups.get(gid)
        self.groups[gid] = state
        if old is None or old.next_flush_at != state.next_flush_at:
            heapq.heappush(self._due, (state.next_flush_at, gid))

    def _drop(self, gid: GroupId) -> None:
        """Forget a finished group (its heap entries are skipped when popped)."""
        self.groups.pop(gid, None)
        self._quiet.pop(gid, None)
        self._logs.pop(gid[1], None)

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
        self._logs = {}  # conservative: the first flush after a reload reads the database
        self._quiet = {}
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
            await self._writer.run(DeleteTimers(stale))

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
            t = on_alerts(self.groups.get(gid), items, node, gid[1])
            assert t.state is not None
            self._set(gid, t.state)

    def _muters(self, now: datetime) -> list[Muter]:
        def firing() -> Iterator[Alert]:  # a generator: walked only if there are rules
            for a in self._alerts.all_alerts():
                if not a.resolved(now):
                    yield a

        return [self._alerts.silencer(now), self._routing().inhibitor(firing())]

    def _still_quiet(
        self, group: GroupState, now: datetime, silences: frozenset[str] | None
    ) -> bool:
        """True when this due group is known to flush to nothing, as it did last time:
        its alerts are the same objects, none has resolved, no repeat is due, and the
        silences in force are the same (see ``_remember_quiet``)."""
        quiet = self._quiet.get(group.key)
        return (
            quiet is not None
            and quiet.alerts is group.alerts
            and now < quiet.until
            and quiet.silences == silences
            and self._logs.get(group.group_key) is quiet.log
        )

    def _remember_quiet(
        self,
        found: _Due,
        plan: FlushPlan,
        silences: frozenset[str] | None,
        routing: Routing,
    ) -> None:
        """After a flush decided from the cached log to do nothing: until when the same
        group is sure to decide the same, so its next flushes skip the decision.

        Only for what the decision depends on and can be watched cheaply: not with
        inhibit rules (other alerts' changes), time intervals (the clock), resolved
        alerts in the group, or an escalation policy (the on-call engine observes
        every flush of those groups).
        """
        group, route = found.group, found.route
        receiver = routing.receiver(group.receiver)
        if (
            silences is None
            or routing.rules
            or route.mute_time_intervals
            or route.active_time_intervals
            or plan.batch.resolved
            or receiver is None
            or receiver.escalation_policy
        ):
            return
        log = self._logs.get(group.group_key)
        if log is None:
            return
        until = min(a.ends_at for a in plan.batch.firing)
        for entry in log.values():
            if entry.receiver == group.receiver:
                # needs_update repeats once the entry is older than repeat_interval
                until = min(until, entry.timestamp + route.repeat_interval)
        self._quiet[group.key] = _Quiet(group.alerts, until, silences, log)

    async def _flush_all(self, due: list[GroupState], now: datetime) -> bool:
        """Flush the due groups; whether the database was read or written."""
        routing = self._routing()
        intervals = routing.time_intervals()
        muters = self._muters(now)
        silencer = muters[0]
        silences = silencer.active_ids if isinstance(silencer, SilenceMuter) else None
        touched = False
        if any(g.group_key in self._logs for g in due):
            # only decisions from the cache need it: a round of new groups goes to the
            # database anyway, and need not wait for this look
            touched = await self._sync_logs(now)
        prepared: list[_Due] = []
        gone: list[GroupId] = []
        flushed: list[tuple[FlushBatch, FlushPlan]] = []
        for group in due:
            if self._still_quiet(group, now, silences):
                route = self._routes[group.route_id]
                self.flushes += 1
                self._set(
                    group.key,
                    replace(group, next_flush_at=now + route.group_interval, has_flushed=True),
                )
                continue
            found = self._prepare(group, now, muters, routing, intervals)
            if found is None:
                gone.append(group.key)
                self._drop(group.key)
                continue
            plan = found.precheck(self._logs.get(group.group_key))
            if plan is None:
                prepared.append(found)
                continue
            # Nothing to send and nothing to log, as the log this process last saw
            # says: no transaction. The stored timer stays behind; a restart or a
            # replica that flushes from it finds the same log and decides the same.
            self.flushes += 1
            flushed.append((plan.batch, plan))
            if found.after is None:
                gone.append(group.key)
                self._drop(group.key)
            else:
                self._set(group.key, found.after)
                if found.after.alerts is group.alerts:
                    self._remember_quiet(found, plan, silences, routing)
        await self._report(flushed)  # those decided from the cache
        lost: list[GroupId] = []
        for start in range(0, len(prepared), FLUSH_CHUNK):
            chunk = prepared[start : start + FLUSH_CHUNK]
            rev, results = await self._writer.run(FlushMany([d.op for d in chunk], now))
            self._own_revs.add(rev)
            # each chunk's notifications go out, and its pages start, once it commits:
            # not after the storm's last chunk, nor never if a later one fails
            flushed = []
            enqueued = self._take_results(chunk, results, now, flushed, lost)
            if enqueued:
                self._on_enqueued(enqueued)
            await self._report(flushed)
        for gid in lost:  # another replica flushed them: what it logged is unknown here
            self._logs.pop(gid[1], None)
        if gone:
            await self._writer.run(DeleteTimers(gone))
        if lost:
            await self._adopt_stored_timers(lost)
        return touched or bool(prepared or gone or lost)

    def _take_results(
        self,
        chunk: list[_Due],
        results: list[FlushResult],
        now: datetime,
        flushed: list[tuple[FlushBatch, FlushPlan]],
        lost: list[GroupId],
    ) -> list[OutboxItem]:
        """Keep what a chunk's transaction decided (the groups' next states, their
        logs); add its flushes to ``flushed`` and the groups another replica claimed
        to ``lost``; return the notifications it committed."""
        enqueued: list[OutboxItem] = []
        for found, result in zip(chunk, results, strict=True):
            gid = found.gid
            if result.stale:  # its alerts changed meanwhile: decided again, from them
                self._set(gid, replace(found.group, next_flush_at=now))
                self._kick()
                continue
            if not result.claimed:
                lost.append(gid)
                continue
            self.flushes += 1
            if result.plan is not None:
                flushed.append((result.plan.batch, result.plan))
            enqueued.extend(result.items)
            if found.after is None:
                self._drop(gid)
            else:
                self._set(gid, found.after)
                if self._changed_logs is not None:
                    self._logs[gid[1]] = result.log
        return enqueued

    async def _report(self, flushed: list[tuple[FlushBatch, FlushPlan]]) -> None:
        """Tell the on-call engine of these flushes (its groups open, page, resolve)."""
        if flushed and self._on_flushed is not None:
            await self._on_flushed(flushed)

    async def _sync_logs(self, now: datetime) -> bool:
        """Forget the cached log of every group another replica notified since the last
        look, so the next flush of those groups decides from the database (at most
        once per tick: another replica's notification is rare, a round is not)."""
        if self._changed_logs is None:
            return False
        if now - self._synced_at < self.settings.tick:
            return False
        self._synced_at = now
        own = sorted(self._own_revs)
        try:
            changed = await asyncio.to_thread(self._changed_logs, self._synced_rev, own)
        except Exception as exc:
            # Cannot tell what other replicas wrote: trust no cached log this time.
            self._sync_outage.failed(exc)
            self._logs.clear()
            self._quiet.clear()
            return False
        self._sync_outage.succeeded()
        for key, _rev in changed:
            self._logs.pop(key, None)
        # Revisions commit in order, so every revision up to the newest seen (ours or
        # theirs) was visible to that query: later looks start after it.
        self._synced_rev = max([self._synced_rev, *own, *(rev for _, rev in changed)])
        self._own_revs = {r for r in self._own_revs if r > self._synced_rev}
        return True

    def _prepare(
        self,
        group: GroupState,
        now: datetime,
        muters: Sequence[Muter],
        routing: Routing,
        intervals: Mapping[str, Sequence[TimeInterval]],
    ) -> _Due | None:
        """The flush of a due group and the state it leaves, or None when the group
        has no route or receiver any more."""
        route = self._routes.get(group.route_id)
        receiver = routing.receiver(group.receiver)
        if route is None or receiver is None:
            return None
        t = on_flush_due(group, now, route)
        batch = next((a.batch for a in t.actions if isinstance(a, NotifyBatch)), None)
        if t.state is None or batch is None:
            return None
        integrations = self._integrations(receiver)

        def plan(entries: Mapping[LogKey, LogEntry]) -> FlushPlan:
            return plan_flush(
                batch,
                route=route,
                integrations=integrations,
                intervals=intervals,
                muters=muters,
                log=entries,
                now=now,
            )

        def planner(entries: Mapping[LogKey, LogEntry]) -> tuple[FlushPlan, list[OutboxItem]]:
            decided = plan(entries)
            return decided, self._items(decided, now)

        # Settling is pure and known now; it is applied only if the claim succeeds.
        settled = on_flush_settled(t.state, batch, delivered=True)
        done = settled.state is None or any(isinstance(a, DeleteGroup) for a in settled.actions)
        after = None if done else settled.state
        timer = None if after is None else self._timer(after)
        stands = partial(_stands, batch, self._alerts.alert, now)
        op = Flush(group.route_id, group.group_key, group.receiver, planner, timer, stands)
        return _Due(group, route, after, op, plan)

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
                self._drop(gid)
            else:
                self._set(gid, _with_timer(state, t, max(t.next_flush_at, soonest)))

    def _items(self, plan: FlushPlan, now: datetime) -> list[OutboxItem]:
        """The outbox items of a plan; leased to this process already when the
        delivery worker takes them straight from the flush (``handoff_lease``)."""
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
            alerts = in_notification_order(by_fp[fp] for fp in (*d.firing, *d.resolved))
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
            item = new_item(str(uuid.uuid4()), batch.receiver, d.integration.name, note, now)
            if self.settings.handoff_lease is not None:
                item = replace(item, lease_until=now + self.settings.handoff_lease)
            items.append(item)
        return items

    def _integrations(self, receiver: Receiver) -> tuple[Integration, ...]:
        """A receiver's integrations, kept while its config object is the same (every
        due group asks, and a reload replaces the objects)."""
        found = self._integrations_of.get(receiver.name)
        if found is None or found[0] is not receiver:
            found = self._integrations_of[receiver.name] = (receiver, integrations_of(receiver))
        return found[1]

    @staticmethod
    def _timer(state: GroupState) -> GroupTimer:
        return GroupTimer(
            state.route_id, state.group_key, state.receiver, state.next_flush_at, state.has_flushed
        )


def _stands(batch: FlushBatch, stored: Callable[[str], Alert | None], now: datetime) -> bool:
    """Whether every alert of ``batch`` still fires, or has resolved, as the batch says,
    by the store as it is now (see ``Flush.stands``). Only a newer version the store
    holds can say otherwise, and the dispatcher is given every version the store takes
    in (``on_alerts``), so the next round's batch agrees with it."""
    for a in batch.firing:
        found = stored(a.fingerprint)
        if found is not None and found.resolved(now):
            return False
    for a in batch.resolved:
        found = stored(a.fingerprint)
        if found is not None and not found.resolved(now):
            return False
    return True


def _with_timer(state: GroupState, t: GroupTimer, due: datetime | None = None) -> GroupState:
    return replace(state, next_flush_at=due or t.next_flush_at, has_flushed=t.has_flushed)
