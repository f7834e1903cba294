"""The probe monitor: requests out, results stored, alerts kept in step.

Each round: every configured probe has a row (due at once when new, and again when
it is now requested as another probe); the due ones are claimed by lease
(``probe_rows.claim``: over PostgreSQL, or two processes on one SQLite file, one
replica requests a probe per interval). Each claimed probe is requested in a task of
its own, which stores its result as soon as it has it (``monitors.probes.after`` on
the row as stored, if its lease still holds) and wakes the loop: a slow probe holds up
no other. Every round keeps every probe's alert in step with its row
(``monitor_alerts.in_step``) and sleeps until the next probe is due (or, if another
replica holds it, until that lease ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine

from tocsin.alerts.model import Alert, PostedAlert
from tocsin.config import format_duration
from tocsin.config.model import Probe
from tocsin.engine.monitor_alerts import REFRESH, Kind, MonitorLoop
from tocsin.monitors import probes
from tocsin.monitors.probes import (
    STATES,
    ProbeRow,
    Result,
    after,
    cert_alert,
    connected,
    due_at,
    firing_alert,
    judge,
    spec_key,
    state,
)
from tocsin.notify.channels.http import ClientPool, HTTPAnswer, send_request
from tocsin.notify.channels.tls import ssl_context
from tocsin.store import probe_rows
from tocsin.store.probe_rows import Wanted
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock

KIND = Kind("probe", probes.ALERTNAMES, "probes")
# a claimed probe's lease outlasts its timeout by this much (then another replica may
# take it over): replicas' clocks must agree to within it
LEASE_MARGIN = timedelta(seconds=5)


@dataclass
class ClaimProbes:
    """Rows for probes new (or changed) in the config, then the due ones this replica
    claims: name -> lease token."""

    wanted: dict[str, Wanted]
    now: datetime

    def apply(self, txn: Txn) -> tuple[dict[str, int], bool]:
        changed = probe_rows.ensure(txn.conn, self.wanted, self.now, txn.rev)
        return probe_rows.claim(txn.conn, self.wanted, self.now, txn.rev), changed

    @staticmethod
    def wrote_nothing(value: tuple[dict[str, int], bool]) -> bool:
        # most rounds claim nothing: no commit, no revision for other replicas to read
        claimed, changed = value
        return not claimed and not changed


@dataclass
class SaveResult:
    """A probe's result onto its row as stored, if this replica's lease still holds."""

    spec: Probe
    result: Result
    lease: int

    def apply(self, txn: Txn) -> bool:
        rows = probe_rows.read(txn.conn, [self.spec.name])
        row = rows.get(self.spec.name)
        if row is None:
            return False
        return probe_rows.save(txn.conn, after(self.spec, row, self.result), self.lease, txn.rev)


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
    due: datetime  # its next request (``due_at``)


class ProbeMonitor(MonitorLoop[Probe]):
    def __init__(
        self,
        engine: Engine,
        writer: GroupCommitter,
        clock: Clock,
        specs: Callable[[], Sequence[Probe]],
        alerts: Callable[[], list[Alert]],
        post_alerts: Callable[[list[PostedAlert]], Awaitable[object]],
        base_url: str = "",
    ) -> None:
        super().__init__(KIND, engine, writer, clock, specs, alerts, post_alerts, STATES, base_url)
        # a new connection per request: a probe measures connecting (and TLS), and a
        # server that takes no new connections fails it
        self._clients = ClientPool(fresh_connections=True)
        self._requests: set[asyncio.Task[None]] = set()
        # each probe's last request, as the last round found it (for /metrics)
        self.success: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.cert_expiry: dict[str, float] = {}

    async def run(self) -> None:
        try:
            await self.loop.run(self.round, lambda: self._sleep)
        finally:
            for task in self._requests:
                task.cancel()
            for task in list(self._requests):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
            row = rows.get(spec.name)
            if row is None or row.spec_key != spec_key(spec):
                row = ProbeRow(spec.name, now)  # as the next round will start it
            out.append(ProbeView(spec, row, state(row), due_at(row, spec.interval)))
        return out

    async def round(self) -> None:
        specs = {s.name: s for s in self._specs()}
        now = self._clock()
        wanted = {
            n: Wanted(s.interval, now + s.timeout + LEASE_MARGIN, spec_key(s))
            for n, s in specs.items()
        }
        if wanted:
            claimed, _ = await self._writer.run(ClaimProbes(wanted, now))
            for name, lease in claimed.items():
                task = asyncio.get_running_loop().create_task(self._probe(specs[name], lease))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
        held = self.held()  # before the rows (MonitorLoop.held)
        views = await asyncio.to_thread(self.views)
        now = self._clock()
        firing = [
            a
            for v in views
            for raise_ in (firing_alert, cert_alert)
            if (a := raise_(v.spec, v.row, now, self.base_url))
        ]
        await self.keep_in_step(firing, now, held)
        self.counts = {s: sum(v.state == s for v in views) for s in STATES}
        done = [(v.spec.name, v.row.last) for v in views if v.row.last is not None]
        self.success = {name: float(last.ok) for name, last in done}
        self.seconds = {name: last.seconds for name, last in done}
        self.cert_expiry = {
            name: last.cert_expires.timestamp() for name, last in done if last.cert_expires
        }
        self._sleep = min(_wait(v, now) for v in views) if views else REFRESH.total_seconds()

    async def _probe(self, spec: Probe, lease: int) -> None:
        result = await self._request(spec)
        await self._writer.run(SaveResult(spec, result, lease))
        self.kick()  # its alert, and its next due time

    async def _request(self, spec: Probe) -> Result:
        at = self._clock()
        started = time.monotonic()
        if spec.tcp:
            error = await connect(spec)
            return connected(at, time.monotonic() - started, error)
        try:
            client = self._clients.client_for(spec.http_config)
        except OSError as exc:  # the TLS files of its http_config cannot be read
            return judge(spec, at, 0.0, None, b"", f"http_config: {exc}")
        answer = await send_request(
            client,
            spec.method,
            spec.url,
            http_config=spec.http_config,
            time_limit=spec.timeout,
            headers=spec.headers,
            peer="the answer",
        )
        seconds = time.monotonic() - started
        if isinstance(answer, HTTPAnswer):
            cert = await certificate_expiry(spec) if spec.cert_expiry else None
            return judge(spec, at, seconds, answer.status, answer.body, "", cert)
        return judge(spec, at, seconds, None, b"", answer.message)


async def connect(spec: Probe) -> str:
    """Open and close a connection to a tcp:// probe's host and port within its
    timeout: "" when it was accepted, else why not."""
    parts = urlsplit(spec.url)
    limit = spec.timeout.total_seconds()
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except TimeoutError:
        return f"no connection within {format_duration(spec.timeout)}"
    except OSError as exc:  # refused, unreachable, a name that does not resolve
        return exc.strerror or str(exc)
    except (UnicodeError, ValueError) as exc:  # a host name IDNA cannot encode
        return f"bad host name: {exc}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ""


async def certificate_expiry(spec: Probe) -> datetime | None:
    """When the certificate of an https probe's server expires: read from a TLS
    handshake of its own, with the probe's TLS settings (the pooled request has let go
    of its connection by the time its answer is read). None: not https, through a
    proxy, not verified (``insecure_skip_verify``: Python decodes only verified
    certificates), or no handshake; the request's own result says what failed."""
    parts = urlsplit(spec.url)
    config = spec.http_config
    if parts.scheme != "https" or parts.hostname is None:
        return None
    if config is not None and (config.proxy_url or config.proxy_from_environment):
        return None
    tls = config.tls_config if config is not None else None
    try:
        context = ssl_context(tls)
        async with asyncio.timeout(spec.timeout.total_seconds()):
            _, writer = await asyncio.open_connection(
                parts.hostname,
                parts.port or 443,
                ssl=context,
                server_hostname=(tls.server_name if tls else "") or parts.hostname,
            )
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return None
    cert = writer.get_extra_info("peercert")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    not_after = cert.get("notAfter") if cert else None
    if not isinstance(not_after, str):
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)


def _wait(v: ProbeView, now: datetime) -> float:
    """Seconds until this probe wants a round: its due time, or, while a replica (this
    one, or another) requests it, the end of that lease (a result wakes the loop
    sooner); at most ``REFRESH``."""
    lease = v.row.lease_until
    at = lease if lease is not None and lease > now else v.due
    return max(0.05, min((at - now).total_seconds(), REFRESH.total_seconds()))
