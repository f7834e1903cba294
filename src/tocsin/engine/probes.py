"""The probe monitor: requests out, results stored, alerts kept in step.

Each round: every configured probe has a row (due at once when new); the ones due are
claimed by lease (``probe_rows.claim``: over PostgreSQL, one replica requests a probe
per interval), requested together, and their results stored with the next due time
(``monitors.probes.after``, in the writer, from the row as stored). Then every probe's
alert is kept in step with its row (``monitor_alerts.in_step``). The loop sleeps until
the next probe is due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config.model import Probe
from tocsin.engine.monitor_alerts import REFRESH, Kind, MonitorLoop
from tocsin.monitors import probes
from tocsin.monitors.probes import STATES, ProbeRow, Result, after, firing_alert, judge, state
from tocsin.notify.channels.http import ClientPool, HTTPAnswer, send_request
from tocsin.store import probe_rows
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock

KIND = Kind("probe", probes.ALERTNAMES, "probes")
# a claimed probe's lease outlasts its timeout by this much (then another may take it)
LEASE_MARGIN = timedelta(seconds=5)


@dataclass
class ClaimProbes:
    """Rows for probes new in the config, then the due ones this replica claims."""

    leases: dict[str, datetime]  # every configured probe: its lease end if claimed now
    now: datetime

    def apply(self, txn: Txn) -> list[str]:
        probe_rows.ensure(txn.conn, self.leases, self.now, txn.rev)
        return probe_rows.claim(txn.conn, self.leases, self.now, txn.rev)


@dataclass
class SaveResults:
    """Each probe's result onto its row as stored (``after``)."""

    results: list[tuple[Probe, Result]]

    def apply(self, txn: Txn) -> None:
        rows = probe_rows.read(txn.conn, [spec.name for spec, _ in self.results])
        probe_rows.save(
            txn.conn,
            [after(spec, rows[spec.name], r) for spec, r in self.results if spec.name in rows],
            txn.rev,
        )


@dataclass
class RunNow:
    name: str
    now: datetime

    def apply(self, txn: Txn) -> bool:
        return probe_rows.due_now(txn.conn, self.name, self.now, txn.rev)


@dataclass(frozen=True)
class ProbeView:
    """A probe as the API, the CLI and the console show it."""

    spec: Probe
    row: ProbeRow
    state: probes.State


class ProbeMonitor(MonitorLoop[Probe]):
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        specs: Callable[[], Sequence[Probe]],
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
    ) -> None:
        super().__init__(KIND, engine, writer, clock, specs, alerts, post_alerts, STATES)
        self._clients = ClientPool()

    async def run(self) -> None:
        try:
            await self._loop.run(self.round, lambda: self._sleep)
        finally:
            await self._clients.aclose()

    async def run_now(self, name: str) -> None:
        """Request a probe at the next round (now). Raises LookupError for a name the
        config does not have."""
        self.spec(name)
        await self._writer.run(RunNow(name, self._clock()))
        self.kick()

    def views(self) -> list[ProbeView]:
        """Every configured probe, in the config's order (a new one: not requested yet)."""
        with self._engine.connect() as conn:
            rows = probe_rows.read(conn)
        now = self._clock()
        out = []
        for spec in self._specs():
            row = rows.get(spec.name) or ProbeRow(spec.name, now)
            out.append(ProbeView(spec, row, state(row)))
        return out

    async def round(self) -> None:
        specs = {s.name: s for s in self._specs()}
        now = self._clock()
        leases = {n: now + s.timeout + LEASE_MARGIN for n, s in specs.items()}
        claimed = await self._writer.run(ClaimProbes(leases, now)) if specs else []
        if claimed:
            results = await asyncio.gather(*(self._request(specs[n]) for n in claimed))
            done = [(specs[n], r) for n, r in zip(claimed, results, strict=True)]
            await self._writer.run(SaveResults(done))
        views = await asyncio.to_thread(self.views)
        now = self._clock()
        wanted = [a for v in views if (a := firing_alert(v.spec, v.row, now)) is not None]
        await self.keep_in_step(wanted, now)
        self.counts = {s: sum(v.state == s for v in views) for s in STATES}
        soonest = min((v.row.next_due for v in views), default=now + REFRESH)
        # due but not claimed here: another replica has it, and saves it within its lease
        wait = (soonest - now).total_seconds() if soonest > now else 1.0
        self._sleep = min(wait, REFRESH.total_seconds())

    async def _request(self, spec: Probe) -> Result:
        at = self._clock()
        started = time.monotonic()
        try:
            client = self._clients.client_for(spec.http_config)
        except OSError as exc:  # the TLS files of its http_config cannot be read
            return judge(spec, at, 0.0, None, b"", f"http_config: {exc}")
        answer = await send_request(
            client,
            spec.method,
            spec.url,
            http_config=spec.http_config,
            timeout=spec.timeout,
            headers=spec.headers,
            peer="the answer",
        )
        seconds = time.monotonic() - started
        if isinstance(answer, HTTPAnswer):
            return judge(spec, at, seconds, answer.status, answer.body, "")
        return judge(spec, at, seconds, None, b"", answer.message)
