"""The heartbeat monitor: pings in, alerts out.

A ping is committed before it is answered (``Ping``). The monitor's loop reads every
heartbeat's stored last ping, works out where each stands (``monitors.heartbeats``),
and keeps the store's alerts in step: a ``down`` or ``failed`` heartbeat's alert is
posted (again at every check, so it stays firing only while Tocsin checks), and one
that pings again has its alert resolved. It wakes when a state can next change without
a ping, at a ping, and at least every ``REFRESH``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config.model import Heartbeat
from tocsin.engine.loop import KickedLoop
from tocsin.monitors.heartbeats import (
    MESSAGE_MAX,
    STATES,
    Beat,
    Kind,
    Status,
    alert_fingerprints,
    firing_alert,
    next_check,
    resolving,
    status,
)
from tocsin.store import heartbeat_rows
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock

log = logging.getLogger(__name__)

# well inside FIRING_FOR: a firing alert is sent again before its end comes
REFRESH = timedelta(minutes=1)


@dataclass
class ArmHeartbeats:
    """Record when Tocsin first knew each of ``names`` (its first deadline counts from
    then); those it knew already keep their time."""

    names: Sequence[str]
    now: datetime

    def apply(self, txn: Txn) -> int:
        return heartbeat_rows.arm(txn.conn, self.names, self.now, txn.rev)


@dataclass
class Ping:
    name: str
    kind: Kind
    message: str
    now: datetime

    def apply(self, txn: Txn) -> None:
        heartbeat_rows.ping(txn.conn, self.name, self.kind, self.message, self.now, txn.rev)


@dataclass(frozen=True)
class HeartbeatView:
    """A heartbeat as the API, the CLI and the console show it."""

    spec: Heartbeat
    beat: Beat
    status: Status


class HeartbeatMonitor:
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        specs: Callable[[], Sequence[Heartbeat]],
        alert: Callable[[str], Alert | None],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._specs = specs
        self._alert = alert  # the store's alert by fingerprint
        self._post = post_alerts
        self._loop = KickedLoop("heartbeats")
        self._sleep = REFRESH.total_seconds()
        # as the last check found them: what /metrics shows, without a database read
        self.counts: dict[str, int] = dict.fromkeys(STATES, 0)

    def kick(self) -> None:
        self._loop.kick()

    async def run(self) -> None:
        await self._loop.run(self.check, lambda: self._sleep)

    async def ping(self, name: str, kind: Kind, message: str) -> HeartbeatView:
        """Store a ping of a configured heartbeat, then let the monitor act on it.
        Raises LookupError for a name the config does not have."""
        spec = next((s for s in self._specs() if s.name == name), None)
        if spec is None:
            have = ", ".join(s.name for s in self._specs()) or "none"
            raise LookupError(f"no heartbeat {name!r} in tocsin.heartbeats (configured: {have})")
        await self._writer.run(Ping(name, kind, message[-MESSAGE_MAX:], self._clock()))
        self.kick()
        (found,) = [v for v in await asyncio.to_thread(self.views) if v.spec.name == name]
        return found

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
            out.append(HeartbeatView(spec, beat, status(spec, beat, now)))
        return out

    async def check(self) -> None:
        beats = await asyncio.to_thread(self._read)
        new = [s.name for s in self._specs() if s.name not in beats]
        if new:  # configured since the last check (or the start): armed from now
            await self._writer.run(ArmHeartbeats(new, self._clock()))
            beats = await asyncio.to_thread(self._read)
        views = self._views(beats)
        now = self._clock()
        posts: list[PostedAlert] = []
        news: list[str] = []  # what changed, for the log (not every refresh)
        for v in views:
            fired = firing_alert(v.spec, v.beat, v.status, now)
            for name, fp in alert_fingerprints(v.spec).items():
                held = self._alert(fp)
                firing = held is not None and not held.resolved(now)
                if fired is not None and fired.labels["alertname"] == name:
                    posts.append(fired)
                    if not firing:
                        news.append(f"{v.spec.name}: {name} fires")
                elif held is not None and firing:  # pinging again, or failing otherwise
                    posts.append(resolving(v.spec, name, held.starts_at, now))
                    news.append(f"{v.spec.name}: {name} resolved")
        if posts:
            await self._post(posts)
        if news:
            log.info("heartbeats: %s", "; ".join(news))
        self.counts = {state: sum(v.status.state == state for v in views) for state in STATES}
        pairs = [(v.spec, v.beat) for v in views]
        self._sleep = max(0.05, (next_check(pairs, now, REFRESH) - now).total_seconds())
