"""The alert store: alerts and silences, durable through the group-commit writer.

Reads are served from in-memory indexes that hold exactly the committed rows; writes go
through ``GroupCommitter`` and return only after their transaction committed. On start
the indexes are loaded from the database, so a restart (or a kill -9) loses nothing
that was acknowledged to a client.

Several processes may share the database (replicas on PostgreSQL, or on one SQLite
file). Each write transaction first takes the next global revision, which
serializes writers, and then catches up on what others committed, so merges and silence
updates always decide against the latest rows; reads catch up before they answer, so a
client sees its own writes whichever process it reaches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine

from tocsin.alerts.labels import LabelSet, NameValidation
from tocsin.alerts.matchers import Matcher, matches_all
from tocsin.alerts.model import Alert, AlertState, PostedAlert, with_defaults
from tocsin.alerts.mutes import AlertStatus, Muter, SilenceMuter, status_of
from tocsin.alerts.pd_events import identity_of
from tocsin.alerts.silences import Silence, sort_key, validate
from tocsin.core import ops
from tocsin.store import alert_rows, silence_rows
from tocsin.store.index import KeyedIndex, SecondaryIndex
from tocsin.store.revisions import current_revision, next_revision
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """One route an alert reaches: its receiver and the group it joins there."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]


class Policy(Protocol):
    """What the loaded configuration decides about alerts (routing and inhibition)."""

    def route(self, labels: LabelSet) -> list[RouteMatch]: ...

    def inhibitor(self, firing: Iterable[Alert]) -> Muter: ...


@dataclass(frozen=True)
class StoreSettings:
    resolve_timeout: timedelta = timedelta(minutes=5)
    name_validation: NameValidation = NameValidation.LEGACY
    retention: timedelta = timedelta(hours=120)


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: Alert
    status: AlertStatus
    routes: tuple[RouteMatch, ...]

    @property
    def receivers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.receiver for r in self.routes))


@dataclass(frozen=True)
class AlertQuery:
    """The filters of ``GET /api/v2/alerts``; each flag includes alerts of that kind."""

    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True
    matchers: Sequence[Matcher] = ()
    receiver: Callable[[str], bool] | None = None


class AlertStore:
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        settings: Callable[[], StoreSettings],
        policy: Callable[[], Policy],
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._settings = settings
        self._policy = policy
        self.alerts: KeyedIndex[Alert] = KeyedIndex()
        # the alerts PagerDuty events fired, by identity: an event finds its alerts
        # without a scan of every alert, in the writer, in a storm
        self.by_event: SecondaryIndex[Alert] = SecondaryIndex(
            self.alerts, lambda a: a.fingerprint, lambda a: identity_of(a.labels)
        )
        self.silences: KeyedIndex[Silence] = KeyedIndex()
        self._seen = 0  # every revision up to this one is in the indexes
        self._seen_lock = threading.Lock()
        writer.on_begin = self.begin

    def load(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Catch up on commits made by other processes sharing the database."""
        with self._engine.connect() as conn:
            if current_revision(conn) > self._seen:
                self._catch_up(conn)

    def begin(self, txn: Txn) -> None:
        """The writer's begin hook: take this transaction's revision, then catch up."""
        txn.rev = next_revision(txn.conn)
        if txn.rev - 1 > self._seen:  # someone else committed since our last look
            self._catch_up(txn.conn, until=txn.rev - 1)
        txn.after_commit.append(lambda: self._mark_seen(txn.rev))

    def _catch_up(self, conn: Connection, until: int | None = None) -> None:
        since = self._seen
        alerts = alert_rows.changed_since(conn, since)
        silences = silence_rows.changed_since(conn, since)
        self.alerts.apply(alerts)
        self.silences.apply(silences)
        newest = max((rev for _, rev, _ in (*alerts, *silences)), default=since)
        # Inside a write transaction every revision before ours has committed, even
        # those that wrote no alert or silence row.
        self._mark_seen(newest if until is None else max(newest, until))

    def _mark_seen(self, rev: int) -> None:
        with self._seen_lock:
            self._seen = max(self._seen, rev)

    # -- writes ---------------------------------------------------------------------

    async def put_alerts(self, posted: list[PostedAlert]) -> list[Alert]:
        if not posted:
            return []
        now = self._clock()
        timeout = self._settings().resolve_timeout
        received = [with_defaults(p, now, timeout) for p in posted]
        return await self._writer.run(ops.PutAlerts(received, now, self.alerts))

    async def apply_event(
        self, integration: str, dedup_key: str, fired: PostedAlert | None
    ) -> list[Alert]:
        """A PagerDuty event's trigger (``fired``) or resolve (None) of the alerts of
        one identity (``ops.ApplyEvent``); returns the alerts stored."""
        now = self._clock()
        alert = None
        if fired is not None:
            alert = with_defaults(fired, now, self._settings().resolve_timeout)
        op = ops.ApplyEvent(integration, dedup_key, alert, now, self.alerts, self.by_event)
        return await self._writer.run(op)

    async def set_silence(self, silence: Silence) -> str:
        now = self._clock()
        validate(silence, now, self._settings().name_validation)
        return await self._writer.run(ops.SetSilence(silence, now, self.silences))

    async def expire_silence(self, silence_id: str) -> Silence:
        return await self._writer.run(ops.ExpireSilence(silence_id, self._clock(), self.silences))

    async def collect_garbage(self) -> tuple[int, int]:
        op = ops.CollectGarbage(
            self._clock(), self._settings().retention, self.alerts, self.silences
        )
        return await self._writer.run(op)

    # -- reads ----------------------------------------------------------------------

    def get_silence(self, silence_id: str) -> Silence | None:
        self.refresh()
        return self.silences.get(silence_id)

    def list_silences(self, filters: Sequence[Matcher] = ()) -> list[Silence]:
        """Silences in API order; ``filters`` match against a silence's own matchers
        read as a label set, as Alertmanager filters them."""
        self.refresh()
        now = self._clock()
        found = [
            s
            for s in self.silences.values()
            if not filters or matches_all(filters, {m.name: m.value for m in s.matchers})
        ]
        return sorted(found, key=lambda s: sort_key(s, now))

    def firing(self, now: datetime) -> list[Alert]:
        return [a for a in self.alerts.values() if not a.resolved(now)]

    def all_alerts(self) -> list[Alert]:
        return self.alerts.values()

    def alert(self, fingerprint: str) -> Alert | None:
        return self.alerts.get(fingerprint)

    def silencer(self, now: datetime) -> Muter:
        return SilenceMuter(self.silences.values(), now)

    def views(self, query: AlertQuery = AlertQuery(), fresh: bool = True) -> list[AlertView]:
        """Firing alerts with their computed state and receivers, filtered by ``query``;
        ``fresh=False``: as this process holds them, without first reading what other
        replicas committed (a second behind at most: the follow loop), so that no
        database is asked (a scrape must not fail, or hang, with the database)."""
        if fresh:
            self.refresh()
        now = self._clock()
        policy = self._policy()
        firing = self.firing(now)
        silencer = SilenceMuter(self.silences.values(), now)
        inhibitor = policy.inhibitor(firing)
        out: list[AlertView] = []
        for a in firing:
            if query.matchers and not matches_all(query.matchers, a.labels):
                continue
            routes = tuple(policy.route(a.labels))
            if query.receiver is not None and not any(query.receiver(r.receiver) for r in routes):
                continue
            status = status_of(a.fingerprint, a.labels, silencer, inhibitor)
            if not _wanted(status, query):
                continue
            out.append(AlertView(a, status, routes))
        out.sort(key=lambda v: v.alert.fingerprint)
        return out


@dataclass(frozen=True, slots=True)
class ViewGroup:
    """The alerts of one aggregation group as ``GET /api/v2/alerts/groups`` shows it."""

    receiver: str
    labels: dict[str, str]
    alerts: tuple[AlertView, ...]


def group_views(
    views: Iterable[AlertView], receiver: Callable[[str], bool] | None = None
) -> list[ViewGroup]:
    """Views by the (group key, receiver) of every route they reach, in that order: an
    alert that reaches two receivers is in both of their groups."""
    groups: dict[tuple[str, str], tuple[dict[str, str], list[AlertView]]] = {}
    for view in views:
        for route in view.routes:
            if receiver is not None and not receiver(route.receiver):
                continue
            key = (route.group_key, route.receiver)
            groups.setdefault(key, (route.group_labels, []))[1].append(view)
    return [
        ViewGroup(name, labels, tuple(found))
        for (_, name), (labels, found) in sorted(groups.items())
    ]


def _wanted(status: AlertStatus, q: AlertQuery) -> bool:
    # Alertmanager's alertFilter: silenced/inhibited flags exclude those mutes;
    # "active" excludes alerts that are neither silenced nor inhibited.
    if status.state is AlertState.UNPROCESSED:
        return q.unprocessed
    if status.silenced_by and not q.silenced:
        return False
    if status.inhibited_by and not q.inhibited:
        return False
    return not (status.state is AlertState.ACTIVE and not q.active)
