"""The heartbeat monitor: pings in, alerts out.

A ping is committed before it is answered (``Ping``). The monitor's loop reads every
heartbeat's stored last ping, works out where each stands (``monitors.heartbeats``),
and keeps the store's alerts in step (``monitor_alerts.in_step``): a ``down`` or
``failed`` heartbeat's alert fires, and one that pings again, or left the config, has
its alert resolved. It wakes when a state can next change without a ping, at a ping,
and at least every ``REFRESH``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from tocsin.alerts.labels import fingerprint
from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config.model import Heartbeat
from tocsin.engine.monitor_alerts import REFRESH, Kind, MonitorLoop, of_kind
from tocsin.monitors import heartbeats
from tocsin.monitors.heartbeats import (
    MESSAGE_MAX,
    STATES,
    Beat,
    Status,
    firing_alert,
    next_check,
    status,
)
from tocsin.store import heartbeat_rows
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock

KIND = Kind("heartbeat", heartbeats.ALERTNAMES, "heartbeats")


@dataclass
class ArmHeartbeats:
    """Record when Tocsin first knew each of ``names`` (its first deadline counts from
    then); those it knew already keep their time."""

    names: Sequence[str]
    now: datetime

    def apply(self, txn: Txn) -> None:
        heartbeat_rows.arm(txn.conn, self.names, self.now, txn.rev)


@dataclass
class Ping:
    name: str
    kind: heartbeats.Kind
    message: str
    now: datetime

    def apply(self, txn: Txn) -> None:
        heartbeat_rows.ping(txn.conn, self.name, self.kind, self.message, self.now, txn.rev)


@dataclass
class Start:
    name: str
    now: datetime

    def apply(self, txn: Txn) -> None:
        heartbeat_rows.start(txn.conn, self.name, self.now, txn.rev)


@dataclass(frozen=True)
class HeartbeatView:
    """A heartbeat as the API, the CLI and the console show it."""

    spec: Heartbeat
    beat: Beat
    status: Status


class HeartbeatMonitor(MonitorLoop[Heartbeat]):
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        specs: Callable[[], Sequence[Heartbeat]],
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        base_url: str = "",
    ) -> None:
        super().__init__(KIND, engine, writer, clock, specs, alerts, post_alerts, STATES, base_url)
        self.last_pings: dict[str, float] = {}  # for /metrics, as the last check found them
        # pings due before this process took any may have been refused while no Tocsin
        # ran: their jobs get their grace again from here (``monitors.heartbeats.status``)
        self.watching_since = clock()

    async def ping(
        self, name: str, kind: heartbeats.Kind | Literal["start"], message: str
    ) -> HeartbeatView:
        """Store a ping of a configured heartbeat (or the start of its job), then let
        the monitor act on it. Raises LookupError for a name the config does not have."""
        spec = self.spec(name)
        if kind == "start":
            await self._writer.run(Start(name, self._clock()))
        else:
            await self._writer.run(Ping(name, kind, message[-MESSAGE_MAX:], self._clock()))
        self.kick()
        beats = await asyncio.to_thread(self._read)
        beat = beats.get(name) or Beat(name, self._clock())
        # the spec it was pinged as (a reload since may have dropped it)
        return HeartbeatView(spec, beat, self._status(spec, beat, self._clock()))

    def views(self) -> list[HeartbeatView]:
        """Every configured heartbeat, in the config's order, where it stands now."""
        return self._views(self._read())

    def _read(self) -> dict[str, Beat]:
        with self._engine.connect() as conn:
            return heartbeat_rows.read(conn)

    def _views(self, beats: dict[str, Beat]) -> list[HeartbeatView]:
        now = self._clock()
        out = []
        for spec in self._specs():
            # not armed yet (configured by a reload a moment ago): from now
            beat = beats.get(spec.name) or Beat(spec.name, now)
            out.append(HeartbeatView(spec, beat, self._status(spec, beat, now)))
        return out

    def _status(self, spec: Heartbeat, beat: Beat, now: datetime) -> Status:
        return status(spec, beat, now, self.watching_since)

    async def check(self) -> None:
        held = self.held()  # before the rows (MonitorLoop.held)
        beats = await asyncio.to_thread(self._read)
        new = [s.name for s in self._specs() if s.name not in beats]
        if new:  # configured since the last check (or the start): armed from now
            await self._writer.run(ArmHeartbeats(new, self._clock()))
            beats = await asyncio.to_thread(self._read)
        views = self._views(beats)
        now = self._clock()
        wanted = [a for v in views if (a := self._firing(v, now, held)) is not None]
        await self.keep_in_step(wanted, now, held)
        self.counts = {state: sum(v.status.state == state for v in views) for state in STATES}
        self.last_pings = {
            v.spec.name: v.beat.last_ping_at.timestamp()
            for v in views
            if v.beat.last_ping_at is not None
        }
        pairs = [(v.spec, v.beat) for v in views]
        due = next_check(pairs, now, REFRESH, self.watching_since)
        self._sleep = max(0.05, (due - now).total_seconds())

    def _firing(self, view: HeartbeatView, now: datetime, held: list[Alert]) -> PostedAlert | None:
        """The alert ``view`` raises, as a replica that watched all along words it (the
        grace a restart gives only holds back when it fires, so that replicas post the
        same alert, not two that overwrite each other). One another replica raised
        while this one was starting stays firing: this one would resolve it, only to
        see it fired again."""
        unforgiven = status(view.spec, view.beat, now)  # no grace for this start
        strict = firing_alert(view.spec, view.beat, unforgiven, now, self.base_url)
        if strict is None:
            return None
        if firing_alert(view.spec, view.beat, view.status, now, self.base_url) is not None:
            return strict
        raised = {a.fingerprint for a in of_kind(KIND, held) if not a.resolved(now)}
        return strict if fingerprint(strict.labels) in raised else None
