"""Notification latency and throughput, side by side: Tocsin against Debian's Alertmanager.

Run by hand (not part of the test suite)::

    cd /work/main && . .venv/bin/activate && python -m bench.notify          # 17-30 min
    cd /work/main && . .venv/bin/activate && python -m bench.notify --quick  # < 1 min

What is measured, for every server of the run (Alertmanager 0.25, Tocsin with SQLite
``--sqlite-durability full`` and ``normal``, optionally Tocsin on PostgreSQL), each on a
fresh data directory and with the same configuration: one route, ``group_by: ['...']``
(every distinct alert is its own aggregation group), ``group_wait: 0s``,
``group_interval: 1s``, ``repeat_interval: 1h`` and one webhook receiver that points at
the sink below.

1. **Latency, open loop.** Distinct alerts (a unique ``instance`` label each) are
   posted one per request at a fixed rate (100/s, then 500/s) for ``--duration``
   seconds. Send times are scheduled in advance (``start + i / rate``): a slow answer
   never delays the next POST; when every connection is busy a new one is opened (up
   to ``--connections``; a server too slow for that makes the generator late, and at
   ``--max-lag`` seconds late it stops: the rest is reported as not posted). Latency =
   arrival of the alert's webhook at the sink - the moment its POST was written to the
   socket, matched by the ``instance`` label. Reported: p50, p99 and max, the alerts
   never notified within ``--deadline`` seconds after the last POST (must be 0; they
   count as infinitely late in the percentiles, and Tocsin's outbox rows by status are
   shown so that late and lost can be told apart), and duplicates.
2. **Throughput, closed loop.** ``--count`` distinct alerts (one per request) are
   posted as fast as the server accepts them, with ``--concurrency`` keep-alive
   connections. Reported: the rate at which the server accepted them, notifications
   per second at the sink from the first to the last arrival, and the total time from
   the first POST to the last notification, all within ``--throughput-deadline``.

The exit status is 1 if an accepted alert was never notified within its deadline.

How, and why it can be trusted:

- **Clocks.** Sender and sink read ``time.monotonic_ns()``: on Linux that is
  ``CLOCK_MONOTONIC``, one clock for every process of the machine, so a send time
  taken in this process and an arrival time taken in the sink's process subtract.
- **The sink** is a raw ``asyncio.Protocol`` + ``httptools`` HTTP/1.1 server on uvloop
  in its own process. Per request it only stamps the arrival (when the whole body is
  in) and keeps the raw body; this process fetches the records through a pipe and
  extracts the labels of every alert of every payload. Its capacity is measured first
  with ``wrk`` posting a webhook-sized payload, and printed; its CPU is shown in every
  run.
- **The generator** is a raw asyncio HTTP/1.1 client on uvloop, with the requests
  built before the clock starts; its CPU and its lateness against the schedule are
  shown, and a run whose generator fell behind says so.
- **Warm-up.** Before each measurement a few alerts are posted and their notifications
  awaited (connections open, code paths warm); they are not counted.
- **Duplicates.** After the last expected notification the sink is watched for
  ``--settle`` seconds more (longer than ``group_interval``), so a group notified again
  on its next interval would be seen.
- **Logs.** Warnings and errors in each server's log are counted and the first ones
  shown.
- **A shared machine.** Each measurement runs ``--rounds`` times (rounds outermost, so a
  busy spell hits every server of a round alike); tables show the median and the
  ``[min-max]`` spread over rounds, and every run line shows the CPU that other
  processes took meanwhile.
- **Profile.** ``--profile`` adds one extra run per Tocsin server, of the first of the
  chosen modes (``--modes latency --rates 100 --profile`` profiles a latency run), with
  ``py-spy record`` attached (not counted in the tables) and prints the top of it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httptools
import orjson
import uvloop
from bench.ingest import AM_NAME, PG_ENV, Target, metric_values, running, targets
from bench.loadgen import ensure_wrk
from bench.procstat import busy_cpu_seconds, own_cpu_seconds, proc_cpu_seconds
from tests.harness.procs import Process

import tocsin

CONFIG = """\
# bench/notify.py: the same for both servers. Every distinct alert is its own group
# ('...'), flushed at once (group_wait 0s), re-checked every group_interval (1s unless
# --group-interval says otherwise), never repeated within the run.
global:
  resolve_timeout: 5m
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: {group_interval}
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: http://127.0.0.1:{port}/webhook
        send_resolved: false
"""

ALERTNAME = "NotifyBench"
WARMUP_ALERTS = 10
POLL_S = 0.1
ANSWER_WAIT_S = 30.0  # open loop: how long answers are awaited after the last POST
IDLE_MAX_S = 2.0  # the client reuses a keep-alive connection idle at most this long

# ------------------------------------------------------------------------------------
# The webhook sink (its own process)
# ------------------------------------------------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_OK_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

Record = tuple[int, bytes]  # (arrival, monotonic ns; the raw request body)


class _SinkProtocol(asyncio.Protocol):
    """One connection to the sink: parse HTTP/1.1, stamp and keep each body, answer 200."""

    def __init__(self, records: list[Record]) -> None:
        self._records = records
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(_BAD)
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body = []

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._records.append((time.monotonic_ns(), b"".join(self._body)))
        assert self._transport is not None
        if self._parser.should_keep_alive():
            self._transport.write(_OK)
        else:
            self._transport.write(_OK_CLOSE)
            self._transport.close()


async def _sink_serve(conn: multiprocessing.connection.Connection) -> None:
    loop = asyncio.get_running_loop()
    records: list[Record] = []
    server = await loop.create_server(
        lambda: _SinkProtocol(records), "127.0.0.1", 0, backlog=4096, reuse_address=True
    )
    port: int = server.sockets[0].getsockname()[1]
    conn.send(port)
    finished: asyncio.Future[None] = loop.create_future()

    def on_command() -> None:
        # The loop made the pipe non-blocking; a large answer must not fail half-sent.
        os.set_blocking(conn.fileno(), True)
        try:
            command = conn.recv()
        except (EOFError, OSError):  # the parent is gone: stop
            command = "stop"
        if command == "drain":
            conn.send(records[:])
            records.clear()
        elif command == "stop" and not finished.done():
            finished.set_result(None)

    loop.add_reader(conn.fileno(), on_command)
    await finished
    loop.remove_reader(conn.fileno())
    server.close()


def _sink_main(conn: multiprocessing.connection.Connection) -> None:
    """Entry point of the sink process: SIGINT is left to the parent, which stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_sink_serve(conn))


@dataclass(frozen=True)
class Arrival:
    """One alert of one webhook payload, as the sink received it."""

    at_ns: int
    labels: dict[str, str]
    status: str


class Sink:
    """The sink process: ``drain()`` returns what arrived since the last drain."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_sink_main, args=(child,), name="notify-sink", daemon=True)
        self._proc.start()
        child.close()
        if not self._conn.poll(30):
            self.stop()
            raise RuntimeError("the webhook sink did not start")
        self.port: int = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self.payloads = 0
        self.bad_payloads = 0

    @property
    def pid(self) -> int:
        assert self._proc.pid is not None
        return self._proc.pid

    def raw(self) -> list[Record]:
        self._conn.send("drain")
        if not self._conn.poll(30):
            raise RuntimeError("the webhook sink does not answer")
        records: list[Record] = self._conn.recv()
        return records

    def drain(self) -> list[Arrival]:
        out: list[Arrival] = []
        for at, body in self.raw():
            self.payloads += 1
            try:
                payload = orjson.loads(body)
                alerts = payload["alerts"]
                out.extend(Arrival(at, a["labels"], a.get("status", "")) for a in alerts)
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self.bad_payloads += 1
        return out

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        self._conn.close()


_WEBHOOK_SAMPLE = {
    "receiver": "sink",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": ALERTNAME, "instance": "capacity-check", "job": "bench"},
            "annotations": {"summary": "a webhook-sized payload"},
            "startsAt": "2024-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up",
            "fingerprint": "0123456789abcdef",
        }
    ],
    "groupLabels": {"alertname": ALERTNAME, "instance": "capacity-check", "job": "bench"},
    "commonLabels": {"alertname": ALERTNAME, "instance": "capacity-check", "job": "bench"},
    "commonAnnotations": {"summary": "a webhook-sized payload"},
    "externalURL": "http://127.0.0.1:9093",
    "version": "4",
    "groupKey": '{}:{alertname="NotifyBench", instance="capacity-check", job="bench"}',
    "truncatedAlerts": 0,
}


@dataclass(frozen=True)
class SinkCapacity:
    requests_per_s: float
    sink_cpu_pct: float
    wrk_cpu_pct: float
    received: int


def sink_capacity(sink: Sink, seconds: int, connections: int) -> SinkCapacity:
    """Post webhook payloads to the sink with wrk (1 thread) for ``seconds``."""
    body = json.dumps(_WEBHOOK_SAMPLE)
    lua = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    with tempfile.TemporaryDirectory(prefix="tocsin-notify-") as tmp:
        script = Path(tmp) / "sink.lua"
        script.write_text(lua)
        argv = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script)]
        cpu0, t0 = (proc_cpu_seconds(sink.pid) or 0.0), os.times()
        done = subprocess.run(
            [*argv, sink.url], capture_output=True, text=True, timeout=seconds + 30
        )
        cpu1, t1 = (proc_cpu_seconds(sink.pid) or 0.0), os.times()
    m = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or m is None:
        raise RuntimeError(f"wrk against the sink failed: {done.stderr}{done.stdout}")
    if "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
        print(f"!!! the sink answered errors under wrk:\n{done.stdout}", flush=True)
    wrk_cpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)
    received = len(sink.raw())
    return SinkCapacity(
        float(m.group(1)), 100 * (cpu1 - cpu0) / seconds, 100 * wrk_cpu / seconds, received
    )


# ------------------------------------------------------------------------------------
# The generator: a raw asyncio HTTP/1.1 client
# ------------------------------------------------------------------------------------


class _Conn(asyncio.Protocol):
    """A keep-alive client connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[int] | None = None
        self.closed = False
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self.close()

    def on_message_complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self._parser.get_status_code())
        if not self._parser.should_keep_alive():
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def send(self, request: bytes) -> asyncio.Future[int]:
        """Write ``request``; the future is its response's status code."""
        assert self._transport is not None
        assert self._waiter is None
        fut: asyncio.Future[int] = self._loop.create_future()
        self._waiter = fut
        self._transport.write(request)
        return fut

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class _Pool:
    """Up to ``limit`` connections; ``acquire`` opens one when none is idle."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self._host, self._port, self._limit = host, port, limit
        self._idle: list[_Conn] = []
        self._all: list[_Conn] = []
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def _open(self) -> _Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _Conn(loop), self._host, self._port)
        self._all.append(conn)
        return conn

    async def warm(self, n: int) -> None:
        opened = await asyncio.gather(*(self._open() for _ in range(min(n, self._limit))))
        self._idle.extend(opened)

    async def acquire(self) -> _Conn:
        while True:
            while self._idle:
                conn = self._idle.pop()
                if conn.closed:
                    continue
                # A server closes idle keep-alive connections (uvicorn after 5 s); a
                # request written as it does so would fail through no fault of either.
                if time.monotonic() - conn.idle_since > IDLE_MAX_S:
                    conn.close()
                    continue
                return conn
            self._all = [c for c in self._all if not c.closed]
            if len(self._all) < self._limit:
                return await self._open()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def release(self, conn: _Conn) -> None:
        if not conn.closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def close(self) -> None:
        for conn in self._all:
            conn.close()


@dataclass
class SendLog:
    """Per request: when it was due (open loop), sent, answered, and its status (-1: no
    answer)."""

    due_ns: list[int]
    sent_ns: list[int]
    done_ns: list[int]
    status: list[int]
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    closed: bool = False  # the generator stopped waiting: later answers are not counted

    @classmethod
    def empty(cls, n: int) -> SendLog:
        return cls([0] * n, [0] * n, [0] * n, [-1] * n)

    def ok(self, i: int) -> bool:
        return 200 <= self.status[i] < 300

    @property
    def unsent(self) -> int:
        """Requests never sent: the time limit of the run came first."""
        return sum(1 for t in self.sent_ns if not t)

    @property
    def unanswered(self) -> int:
        """Requests sent but still unanswered when the generator stopped waiting."""
        return sum(1 for s, d in zip(self.sent_ns, self.done_ns, strict=True) if s and not d)

    @property
    def failed(self) -> int:
        """Requests answered, but not 2xx (or the connection failed)."""
        return sum(1 for i, t in enumerate(self.done_ns) if t and not self.ok(i))


def _record(log: SendLog, i: int, fut: asyncio.Future[int]) -> None:
    if log.closed:
        return
    log.done_ns[i] = time.monotonic_ns()
    if fut.cancelled():
        log.errors["cancelled"] += 1
    elif (exc := fut.exception()) is not None:
        log.errors[type(exc).__name__] += 1
    else:
        log.status[i] = fut.result()
        if not log.ok(i):
            log.errors[f"HTTP {log.status[i]}"] += 1


async def _open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    connections: int,
    max_lag_s: float = 10.0,
) -> SendLog:
    """Send request i at ``start + i / rate`` whatever the answers do, then wait
    (bounded) for the answers. At most ``connections`` requests are in flight: a server
    that answers too slowly for that makes the generator late, and once it is
    ``max_lag_s`` behind its schedule it stops (the rest is reported unsent)."""
    pool = _Pool(host, port, connections)
    log = SendLog.empty(len(requests))
    pending: set[asyncio.Future[int]] = set()

    def on_done(i: int, conn: _Conn, fut: asyncio.Future[int]) -> None:
        _record(log, i, fut)
        pending.discard(fut)
        pool.release(conn)

    try:
        await pool.warm(min(8, connections))
        start = time.monotonic_ns() + 10_000_000
        period = 1e9 / rate
        for i, request in enumerate(requests):
            due = start + int(i * period)
            delay = due - time.monotonic_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            conn = await pool.acquire()
            if time.monotonic_ns() - due > max_lag_s * 1e9:
                pool.release(conn)
                break
            log.due_ns[i] = due
            log.sent_ns[i] = time.monotonic_ns()
            fut = conn.send(request)
            pending.add(fut)
            fut.add_done_callback(functools.partial(on_done, i, conn))
        if pending:
            await asyncio.wait(set(pending), timeout=ANSWER_WAIT_S)
    finally:
        log.closed = True
        pool.close()
    return log


async def _closed_loop(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, limit_s: float
) -> SendLog:
    """``concurrency`` connections, each sending its next request when answered."""
    pool = _Pool(host, port, concurrency)
    log = SendLog.empty(len(requests))
    indices = iter(range(len(requests)))

    async def worker() -> None:
        conn = await pool.acquire()
        for i in indices:  # shared by the workers: each request is sent once
            if conn.closed:
                conn = await pool.acquire()
            log.sent_ns[i] = log.due_ns[i] = time.monotonic_ns()
            fut = conn.send(requests[i])
            with contextlib.suppress(OSError, httptools.HttpParserError):
                await fut
            _record(log, i, fut)

    try:
        await pool.warm(concurrency)
        async with asyncio.timeout(limit_s):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    except TimeoutError:
        pass  # what was not sent or answered by then is reported as such
    finally:
        log.closed = True
        pool.close()
    return log


def run_async(coro: Any) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def build_requests(port: int, run: str, n: int) -> list[bytes]:
    """``n`` POST /api/v2/alerts requests, one distinct alert each (``instance`` = i)."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    starts = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    ends = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (
        f"POST /api/v2/alerts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n"
    )
    out = []
    for i in range(n):
        body = (
            f'[{{"labels":{{"alertname":"{ALERTNAME}","job":"bench","severity":"warning",'
            f'"run":"{run}","instance":"{i}"}},"annotations":{{"summary":"notify bench '
            f'alert {i}"}},"generatorURL":"http://127.0.0.1:9090/graph?g0.expr=up",'
            f'"startsAt":"{starts}","endsAt":"{ends}"}}]'
        ).encode()
        out.append(head.format(len(body)).encode() + body)
    return out


# ------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------


def cpu_now(server: int, sink: int) -> tuple[float, float, float]:
    """CPU seconds so far of the server, the sink and this generator (0 once gone)."""
    return (proc_cpu_seconds(server) or 0.0, proc_cpu_seconds(sink) or 0.0, own_cpu_seconds())


@dataclass
class Run:
    """One measurement of one server. Times in ms or s, relative to the first POST."""

    mode: str
    target: str
    round: int
    posted: int
    failed: int = 0  # POSTs not answered 2xx (their alerts are not expected)
    errors: dict[str, int] = field(default_factory=dict)  # why they failed
    unsent: int = 0  # POSTs never sent: the run's time limit came first
    unanswered: int = 0  # POSTs sent but unanswered when the generator stopped waiting
    notified: int = 0  # distinct expected alerts that reached the sink
    missing: int = 0  # expected alerts never notified within the deadline
    duplicates: int = 0  # notifications of an alert beyond its first
    strays: int = 0  # notified alerts of this run that were never posted
    other_run_arrivals: int = 0  # notifications of other runs (warm-up) during the run
    p50_ms: float | None = None  # inf: that many alerts were not notified in time
    p99_ms: float | None = None
    max_ms: float | None = None
    post_s: float = 0.0  # first POST sent -> last answer
    post_p50_ms: float | None = None  # POST answer time
    post_p99_ms: float | None = None
    posted_per_s: float = 0.0
    max_lag_ms: float = 0.0  # generator lateness against the schedule (open loop)
    first_arrival_s: float | None = None
    last_arrival_s: float | None = None  # of the alerts that were notified
    all_notified_s: float | None = None  # inf: not all within the deadline
    notifications_per_s: float | None = None  # from the first to the last arrival
    wall_s: float = 0.0
    took_s: float = 0.0  # the whole measurement: start, warm-up, run, settle, stop
    server_cpu_pct: float = 0.0
    sink_cpu_pct: float = 0.0
    generator_cpu_pct: float = 0.0
    others_cpu_pct: float = 0.0
    server_cpu_ms_per_alert: float = 0.0
    # Tocsin: write transactions (group commits) per posted alert over the run, from
    # its /metrics: at low load the cost of a notification is mostly per transaction
    commits_per_alert: float | None = None
    log_issues: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outbox: dict[str, int] | None = None  # Tocsin (SQLite): outbox rows by status at the end


_COMMITS = re.compile(r"^tocsin_commit_batch_ops_count\s+(\S+)$", re.MULTILINE)


def commit_count(url: str) -> float | None:
    """Tocsin's write transactions so far (its commit-batch histogram's count)."""
    found = metric_values(url, _COMMITS)
    return found[0] if found else None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


_AM_ISSUE = re.compile(r"level=(warn|error)")
_TOCSIN_ISSUE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Exception")


def log_issues(proc: Process, kind: str) -> list[str]:
    pattern = _AM_ISSUE if kind == "alertmanager" else _TOCSIN_ISSUE
    return [line for line in proc.log().splitlines() if pattern.search(line)]


def await_arrivals(
    sink: Sink, run: str, expected: set[str], deadline_s: float
) -> tuple[dict[str, list[int]], int]:
    """Drain the sink until every expected ``instance`` of ``run`` arrived or the
    deadline passes; arrivals by instance, and the count of other runs' arrivals."""
    arrivals: dict[str, list[int]] = {}
    others = 0
    end = time.monotonic() + deadline_s
    while True:
        for a in sink.drain():
            if a.labels.get("run") == run:
                arrivals.setdefault(a.labels.get("instance", ""), []).append(a.at_ns)
            else:
                others += 1
        if expected <= arrivals.keys() or time.monotonic() >= end:
            return arrivals, others
        time.sleep(POLL_S)


def warm_up(url: str, port: int, sink: Sink, deadline_s: float) -> None:
    """Post a few alerts and wait for their notifications: connections open, paths warm."""
    run = f"warm{uuid.uuid4().hex[:6]}"
    requests = build_requests(port, run, WARMUP_ALERTS)
    log: SendLog = run_async(_open_loop("127.0.0.1", port, requests, 100.0, 8))
    expected = {str(i) for i in range(WARMUP_ALERTS) if log.ok(i)}
    arrivals, _ = await_arrivals(sink, run, expected, deadline_s)
    if log.failed or not expected <= arrivals.keys():
        print(
            f"!!! warm-up against {url}: {log.failed} POSTs failed, "
            f"{len(expected - arrivals.keys())} of {len(expected)} never notified",
            flush=True,
        )
    time.sleep(0.2)
    sink.drain()


def measure(
    target: Target,
    mode: str,
    rnd: int,
    args: argparse.Namespace,
    sink: Sink,
    workdir: Path,
    config: Path,
    profile_out: Path | None = None,
) -> Run:
    """One measurement on a fresh server: ``mode`` is ``latency@RATE`` or ``throughput``."""
    began = time.monotonic()
    with running(target, workdir, config) as (proc, url):
        assert proc.proc is not None
        pid = proc.proc.pid
        port = int(url.rsplit(":", 1)[1])
        warm_up(url, port, sink, args.warmup_deadline)
        run = f"r{uuid.uuid4().hex[:8]}"
        if mode == "throughput":
            n = args.count
        else:
            rate = float(mode.split("@", 1)[1])
            n = int(rate * args.duration)
        requests = build_requests(port, run, n)
        spy = start_py_spy(pid, profile_out) if profile_out is not None else None
        commits = commit_count(url) if target.kind == "tocsin" else None
        cpu = cpu_now(pid, sink.pid)
        busy0, t0 = busy_cpu_seconds(), time.monotonic()
        try:
            if mode == "throughput":
                limit = args.throughput_deadline
                coro = _closed_loop("127.0.0.1", port, requests, args.concurrency, limit)
            else:
                coro = _open_loop("127.0.0.1", port, requests, rate, args.connections, args.max_lag)
            log: SendLog = run_async(coro)
            expected = {str(i) for i in range(n) if log.ok(i)}
            if mode == "throughput":  # one limit for posting and notifying together
                deadline = max(0.0, args.throughput_deadline - (time.monotonic() - t0))
            else:
                deadline = args.deadline
            arrivals, others = await_arrivals(sink, run, expected, deadline)
        finally:
            if spy is not None:
                stop_py_spy(spy)
        wall = time.monotonic() - t0
        cpu_after = cpu_now(pid, sink.pid)
        busy = busy_cpu_seconds() - busy0
        commits_after = commit_count(url) if commits is not None else None
        # Keep watching: a group notified again on its next interval is a duplicate.
        time.sleep(args.settle)
        late, late_others = await_arrivals(sink, run, set(), 0.0)
        for key, times in late.items():
            arrivals.setdefault(key, []).extend(times)
        issues = log_issues(proc, target.kind)
    outbox = outbox_counts(workdir / "data" / "tocsin.db") if target.kind == "tocsin" else None
    r = Run(mode, target.name, rnd, n, failed=log.failed, unsent=log.unsent)
    r.unanswered = log.unanswered
    r.other_run_arrivals = others + late_others
    r.errors = dict(log.errors)
    r.took_s = time.monotonic() - began
    summarize(r, log, expected, arrivals)
    used = [b - a for a, b in zip(cpu, cpu_after, strict=True)]
    r.wall_s = wall
    r.server_cpu_pct, r.sink_cpu_pct, r.generator_cpu_pct = (100 * u / wall for u in used)
    r.others_cpu_pct = max(0.0, 100 * (busy - sum(used)) / wall)
    r.server_cpu_ms_per_alert = 1000 * used[0] / n if n else 0.0
    if commits is not None and commits_after is not None and n:
        r.commits_per_alert = (commits_after - commits) / n
    r.log_issues = issues
    r.outbox = outbox
    if mode != "throughput" and r.max_lag_ms > 50:
        r.notes.append(f"generator fell behind its schedule by up to {r.max_lag_ms:.0f} ms")
    return r


def outbox_counts(db: Path) -> dict[str, int] | None:
    """Tocsin's outbox rows by status (read-only, after the server stopped): tells an
    alert that was decided but still waits to be sent from one that was never decided."""
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
    except sqlite3.Error as exc:
        return {f"unreadable: {exc}": 0}
    return {str(status): int(n) for status, n in rows}


def summarize(r: Run, log: SendLog, expected: set[str], arrivals: dict[str, list[int]]) -> None:
    ok = [i for i in range(r.posted) if log.ok(i)]
    sent = [i for i in range(r.posted) if log.sent_ns[i]]
    first_send = min((log.sent_ns[i] for i in sent), default=0)
    last_done = max(log.done_ns, default=0)
    r.post_s = max(0.0, (last_done - first_send) / 1e9)
    r.posted_per_s = len(ok) / r.post_s if r.post_s > 0 else 0.0
    r.max_lag_ms = max((log.sent_ns[i] - log.due_ns[i] for i in sent), default=0) / 1e6
    answers = sorted((log.done_ns[i] - log.sent_ns[i]) / 1e6 for i in ok)
    if answers:
        r.post_p50_ms = percentile(answers, 50)
        r.post_p99_ms = percentile(answers, 99)
    latencies = [(min(arrivals[str(i)]) - log.sent_ns[i]) / 1e6 for i in ok if str(i) in arrivals]
    r.notified = len(latencies)
    r.missing = len(expected - arrivals.keys())
    r.duplicates = sum(len(v) - 1 for v in arrivals.values())
    r.strays = len(arrivals.keys() - expected)
    # An alert not notified within the deadline counts as infinitely late: percentiles
    # over what did arrive would flatter a server that drops or delays the slow ones.
    latencies = sorted(latencies + [math.inf] * r.missing)
    if latencies:
        r.p50_ms = percentile(latencies, 50)
        r.p99_ms = percentile(latencies, 99)
        r.max_ms = latencies[-1]
    firsts = sorted(min(v) for k, v in arrivals.items() if k in expected)
    if firsts:
        r.first_arrival_s = (firsts[0] - first_send) / 1e9
        r.last_arrival_s = (firsts[-1] - first_send) / 1e9
        r.all_notified_s = math.inf if r.missing else r.last_arrival_s
        span = (firsts[-1] - firsts[0]) / 1e9
        r.notifications_per_s = (len(firsts) - 1) / span if span > 0 else None


def run_line(r: Run) -> str:
    if r.mode == "throughput":
        rate = f"{r.notifications_per_s:,.0f}" if r.notifications_per_s else "-"
        total = fmt(r.all_notified_s)
        main = (
            f"posted {r.posted_per_s:,.0f}/s in {r.post_s:.1f} s, notified {rate}/s, "
            f"all notified after {total} s"
        )
    else:
        main = (
            f"p50 {fmt(r.p50_ms, 1)} p99 {fmt(r.p99_ms, 1)} max {fmt(r.max_ms, 1)} ms "
            f"(POST answered p50 {fmt(r.post_p50_ms, 1)} p99 {fmt(r.post_p99_ms, 1)} ms, "
            f"generator late by <= {r.max_lag_ms:.1f} ms)"
        )
    unsent = f"{r.unsent} unsent, " if r.unsent else ""
    unsent += f"{r.unanswered} unanswered, " if r.unanswered else ""
    return (
        f"  round {r.round} {r.mode:<12} {r.target:<22}: {main} | {r.notified}/{r.posted} "
        f"notified, {unsent}{r.failed} failed, {r.missing} missing, {r.duplicates} dup "
        f"| took {r.took_s:.0f} s | CPU server "
        f"{r.server_cpu_pct:.0f}% sink {r.sink_cpu_pct:.0f}% gen {r.generator_cpu_pct:.0f}% "
        f"others {r.others_cpu_pct:.0f}% | server CPU {r.server_cpu_ms_per_alert:.2f} ms/alert"
        + (f", {r.commits_per_alert:.2f} commits/alert" if r.commits_per_alert is not None else "")
        + (f" | {'; '.join(r.notes)}" if r.notes else "")
        + (f" | {len(r.log_issues)} log warnings/errors" if r.log_issues else "")
    )


def alarms(r: Run) -> list[str]:
    """What must be shouted about: lost, failed, duplicated or stray notifications."""
    out = []
    if r.missing:
        where = f" (Tocsin's outbox at the end: {r.outbox})" if r.outbox else ""
        out.append(
            f"{r.missing} of {r.posted - r.failed - r.unsent - r.unanswered} accepted alerts "
            "NEVER NOTIFIED "
            "within "
            f"the deadline{where}"
        )
    if r.failed:
        out.append(f"{r.failed} of {r.posted} POSTs not answered 2xx: {r.errors}")
    if r.unsent or r.unanswered:
        why = "the generator fell too far behind" if r.mode != "throughput" else "time limit"
        out.append(
            f"of {r.posted} alerts, {r.unsent} were not even posted and {r.unanswered} not "
            f"answered ({why}: the server did not keep up)"
        )
    if r.duplicates:
        out.append(f"{r.duplicates} duplicate notifications")
    if r.strays:
        out.append(f"{r.strays} notified alerts that were never posted")
    if r.log_issues:
        out.append(f"{len(r.log_issues)} warnings/errors in the log, first: {r.log_issues[:3]}")
    return out


# ------------------------------------------------------------------------------------
# py-spy
# ------------------------------------------------------------------------------------


def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    argv += ["--nolineno", "--threads", "--nonblocking", "--output", str(out)]
    log = out.with_suffix(".log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    time.sleep(0.5)  # let it attach before the load starts
    return proc


def stop_py_spy(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


_FRAME = re.compile(r"(.*) \((.*)\)")


def _frame_path(frame: str) -> str:
    """``fn (tocsin/store/writer.py)`` -> ``tocsin/store/writer.py`` (py-spy's short path)."""
    m = _FRAME.fullmatch(frame)
    return m.group(2) if m else frame


def _package(path: str) -> str:
    return path.split("/", 1)[0] if "/" in path else path


def profile_summary(raw: Path, top: int) -> str:
    """The top of py-spy's raw (collapsed stacks) output: samples per thread, per package
    of the innermost frame, per function on top of the stack (self), and Tocsin's own
    functions anywhere in the stack (inclusive; the CLI and start-up frames left out)."""
    threads: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        frames = stack.split(";")
        if not count_s.isdigit() or len(frames) < 2 or not frames[0].startswith("thread"):
            continue  # a thread sampled without a Python frame, or a garbled line
        count = int(count_s)
        total += count
        threads[frames[0].split(":", 1)[-1].strip()] += count
        packages[_package(_frame_path(frames[-1]))] += count
        self_[frames[-1]] += count
        own = {
            f
            for f in frames[1:]
            if _frame_path(f).startswith("tocsin/")
            and not _frame_path(f).startswith(("tocsin/cli/", "tocsin/__main__"))
        }
        for f in own:
            incl[f] += count
    if not total:
        return "(py-spy recorded no samples)"

    def block(title: str, counter: collections.Counter[str], n: int) -> list[str]:
        return [title] + [f"  {100 * c / total:5.1f}%  {k}" for k, c in counter.most_common(n)]

    lines = [f"{total} samples at 200 Hz of non-idle threads; % of all samples"]
    lines += block("per thread:", threads, 6)
    lines += block("per package (innermost frame):", packages, 6)
    lines += block("self (innermost frame):", self_, top)
    lines += block("inclusive, Tocsin's functions:", incl, top)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    """A figure; ``never`` for infinity (not within the deadline)."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "never"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None, digits: int = 2) -> str:
    """A ratio, with significant digits kept when it is far below 1."""
    if value is None or math.isinf(value) or value == 0 or value >= 0.1:
        return fmt(value, digits)
    return f"{value:.2g}"


def spread(values: Sequence[float | None], digits: int = 1, show: Callable[..., str] = fmt) -> str:
    """``median [min-max]`` over rounds (just the value for one round)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return show(vals[0], digits)
    med = statistics.median(vals)
    return f"{show(med, digits)} [{show(min(vals), digits)}-{show(max(vals), digits)}]"


def ratios(
    runs: list[Run], metric: Callable[[Run], float | None], invert: bool
) -> dict[str, list[float | None]]:
    """Per target, per round: metric/AM's (or AM's/metric if ``invert``)."""
    am = {r.round: metric(r) for r in runs if r.target == AM_NAME}
    out: dict[str, list[float | None]] = {}
    for r in runs:
        if r.target == AM_NAME:
            continue
        mine, base = metric(r), am.get(r.round)
        value = None
        if mine and base and not (math.isinf(mine) and math.isinf(base)):
            value = base / mine if invert else mine / base
        out.setdefault(r.target, []).append(value)
    return out


def _by_target(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for r in runs:
        out.setdefault(r.target, []).append(r)
    return out


def latency_table(mode: str, runs: list[Run]) -> str:
    p50 = ratios(runs, lambda r: r.p50_ms, invert=True)
    p99 = ratios(runs, lambda r: r.p99_ms, invert=True)
    lines = [
        "| server | p50 ms | p99 ms | max ms | missing | dup | not posted | POST p99 ms "
        "| server CPU | CPU ms/alert | commits/alert | AM/Tocsin p50 | AM/Tocsin p99 |",
        "|" + "---|" * 13,
    ]
    for target, rs in _by_target(runs).items():
        lines.append(
            f"| {target} | {spread([r.p50_ms for r in rs], 2)} "
            f"| {spread([r.p99_ms for r in rs], 2)} | {spread([r.max_ms for r in rs])} "
            f"| {sum(r.missing for r in rs)} | {sum(r.duplicates for r in rs)} "
            f"| {sum(r.unsent + r.unanswered + r.failed for r in rs)} "
            f"| {spread([r.post_p99_ms for r in rs])} "
            f"| {spread([r.server_cpu_pct for r in rs], 0)}% "
            f"| {spread([r.server_cpu_ms_per_alert for r in rs], 2)} "
            f"| {spread([r.commits_per_alert for r in rs], 2)} "
            f"| {spread(p50.get(target, []), 2, fmt_ratio)} "
            f"| {spread(p99.get(target, []), 2, fmt_ratio)} |"
        )
    rate = mode.split("@", 1)[1]
    head = (
        f"Latency at {rate} alerts/s, POST sent -> webhook arrived (ratio AM/Tocsin: "
        ">1 means Tocsin is faster; 'not posted': unsent, unanswered or refused POSTs)"
    )
    return head + "\n\n" + "\n".join(lines)


def throughput_table(runs: list[Run], count: int, concurrency: int) -> str:
    rate = ratios(runs, lambda r: r.notifications_per_s, invert=False)
    total = ratios(runs, lambda r: r.all_notified_s, invert=True)
    lines = [
        "| server | posted/s | notifications/s | all notified after s | missing | dup "
        "| server CPU | Tocsin/AM notifications/s | AM/Tocsin total time |",
        "|" + "---|" * 9,
    ]
    for target, rs in _by_target(runs).items():
        lines.append(
            f"| {target} | {spread([r.posted_per_s for r in rs], 0)} "
            f"| {spread([r.notifications_per_s for r in rs], 0)} "
            f"| {spread([r.all_notified_s for r in rs])} | {sum(r.missing for r in rs)} "
            f"| {sum(r.duplicates for r in rs)} | {spread([r.server_cpu_pct for r in rs], 0)}% "
            f"| {spread(rate.get(target, []), 2, fmt_ratio)} "
            f"| {spread(total.get(target, []), 2, fmt_ratio)} |"
        )
    head = (
        f"Throughput, {count:,} alerts each its own group, {concurrency} connections "
        "(ratios: >1 means Tocsin is better)"
    )
    return head + "\n\n" + "\n".join(lines)


# ------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="a smoke run in under a minute")
    p.add_argument("--rates", help="open-loop rates, alerts/s (default 100,500)")
    p.add_argument("--duration", type=float, help="seconds per latency run (20; quick 5)")
    p.add_argument("--count", type=int, help="alerts per throughput run (20000; quick 1000)")
    p.add_argument("--concurrency", type=int, default=32, help="throughput connections")
    p.add_argument("--connections", type=int, default=128, help="open-loop connection limit")
    p.add_argument(
        "--max-lag",
        type=float,
        default=10.0,
        help="open loop: seconds behind schedule after which the generator gives up",
    )
    p.add_argument(
        "--rounds", type=int, help="rounds per measurement (2; quick 1; 0 with --profile)"
    )
    p.add_argument(
        "--targets", help="comma-separated subset of am,full,normal,pg (default am,full,normal)"
    )
    p.add_argument("--modes", default="latency,throughput", help="latency,throughput")
    p.add_argument(
        "--group-interval",
        default="1s",
        help="route group_interval (1s; a longer one shows what the re-flushes cost)",
    )
    p.add_argument("--deadline", type=float, default=30.0, help="latency: wait after last POST")
    p.add_argument(
        "--throughput-deadline",
        type=float,
        default=120.0,
        help="throughput: seconds for posting and notifying together",
    )
    p.add_argument("--settle", type=float, default=2.0, help="seconds watched for duplicates")
    p.add_argument(
        "--warmup-deadline", type=float, default=10.0, help="seconds to wait for warm-up alerts"
    )
    p.add_argument("--sink-check", type=int, default=2, help="seconds of wrk against the sink")
    p.add_argument(
        "--profile", action="store_true", help="py-spy one extra Tocsin run (of the first mode)"
    )
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--postgres-url", default=os.environ.get(PG_ENV), help=f"default ${PG_ENV}")
    p.add_argument("--json", type=Path, help="also write every run as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args(argv)
    quick = args.quick
    args.rates = args.rates or "100,500"
    args.duration = args.duration or (5.0 if quick else 20.0)
    args.count = args.count or (1000 if quick else 20000)
    if args.rounds is None:
        args.rounds = 1 if quick else 2
    args.targets = args.targets or ("am,full" if quick else "am,full,normal")
    if quick:  # bounded so that the whole run stays under a minute, even when slow
        args.deadline = min(args.deadline, 2.0)
        args.throughput_deadline = min(args.throughput_deadline, 5.0)
        args.settle = min(args.settle, 1.1)
        args.warmup_deadline = min(args.warmup_deadline, 2.0)
        args.max_lag = min(args.max_lag, 2.0)
        args.sink_check = min(args.sink_check, 1)
    if not 0 < args.duration <= 120 or not 1 <= args.count <= 200_000:
        p.error("--duration must be in (0, 120] s and --count in 1..200000")
    if not (0 if args.profile else 1) <= args.rounds <= 10 or not 1 <= args.concurrency <= 512:
        p.error("--rounds must be 1..10 (0 with --profile) and --concurrency 1..512")
    if not 0 < args.deadline <= 600 or not 0 < args.throughput_deadline <= 1800:
        p.error("--deadline must be in (0, 600] and --throughput-deadline in (0, 1800]")
    if not re.fullmatch(r"[1-9][0-9]*(ms|s|m|h)", args.group_interval):
        p.error("--group-interval must look like 1s, 500ms, 5m or 1h")
    rates = [float(x) for x in args.rates.split(",") if x]
    if any(not 0 < x <= 5000 for x in rates):
        p.error("--rates must be in (0, 5000]")
    return args


def modes_of(args: argparse.Namespace) -> list[str]:
    wanted = {m.strip() for m in args.modes.split(",")}
    out = [f"latency@{x}" for x in args.rates.split(",") if x] if "latency" in wanted else []
    return out + (["throughput"] if "throughput" in wanted else [])


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="tocsin-notify-"))
    try:
        yield root
    finally:
        if keep:
            print(f"# work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from timeout(1)) unwinds like Ctrl-C: every server and the sink stop.
    signal.signal(signal.SIGTERM, _terminate)
    ensure_wrk()
    chosen = targets(args.postgres_url, [t for t in args.targets.split(",") if t])
    modes = modes_of(args)
    shown_argv = " ".join(["python", "-m", "bench.notify", *(argv or sys.argv[1:])])
    print(f"# {shown_argv}")
    # The servers run `python -m tocsin` with this environment: PYTHONPATH may point at a
    # snapshot of src/ so that a tree others are changing does not change mid-run.
    print(f"# tocsin imported from {Path(tocsin.__file__).parent}")
    print(
        f"# {os.cpu_count()} CPUs; targets: {', '.join(t.name for t in chosen)}; "
        f"{args.rounds} round(s); latency {args.duration:g} s at {args.rates} alerts/s; "
        f"throughput {args.count:,} alerts, {args.concurrency} connections",
        flush=True,
    )
    runs: list[Run] = []
    profiles: list[tuple[str, str]] = []
    began = time.monotonic()
    sink = Sink()
    try:
        with workspace(args.keep) as root:
            config = root / "alertmanager.yml"
            config.write_text(CONFIG.format(port=sink.port, group_interval=args.group_interval))
            cap = sink_capacity(sink, args.sink_check, 32)
            print(
                f"# webhook sink (pid {sink.pid}): {cap.requests_per_s:,.0f} requests/s under wrk "
                f"(32 connections; sink CPU {cap.sink_cpu_pct:.0f}%, wrk CPU "
                f"{cap.wrk_cpu_pct:.0f}%, {cap.received:,} payloads recorded)",
                flush=True,
            )
            sink.payloads = 0
            for rnd in range(args.rounds):
                for mode in modes:
                    for target in chosen:
                        slug = f"{mode.replace('@', '')}-{target.name.replace(' ', '-')}-r{rnd}"
                        r = measure(target, mode, rnd, args, sink, root / slug, config)
                        runs.append(r)
                        print(run_line(r), flush=True)
                        for alarm in alarms(r):
                            print(f"!!! {r.target} {r.mode} round {rnd}: {alarm}", flush=True)
            if args.profile:
                for target in chosen:
                    if target.kind != "tocsin":
                        continue
                    slug = f"profile-{target.name.replace(' ', '-')}"
                    out = root / f"{slug}.txt"
                    r = measure(target, modes[0], -1, args, sink, root / slug, config, out)
                    print(run_line(r) + " (under py-spy, not in the tables)", flush=True)
                    summary = profile_summary(out, args.profile_top) if out.exists() else ""
                    profiles.append((target.name, summary or "(py-spy wrote nothing)"))
    finally:
        sink.stop()
    print(f"\nsink: {sink.payloads:,} payloads, {sink.bad_payloads} unparsable")
    for mode in modes:
        mine = [r for r in runs if r.mode == mode]
        print()
        if mode == "throughput":
            print(throughput_table(mine, args.count, args.concurrency))
        else:
            print(latency_table(mode, mine))
    print(
        f"\nmedian [min-max] over {args.rounds} round(s); 'missing' and 'dup' are totals; an "
        "alert not notified within the deadline counts as infinitely late ('never'). "
        f"Took {time.monotonic() - began:.0f} s."
    )
    bad = [(r, a) for r in runs for a in alarms(r)]
    if bad:
        print("\n" + "!" * 78)
        for r, alarm in bad:
            print(f"!!! {r.target} {r.mode} round {r.round}: {alarm}")
        print("!" * 78)
    for name, summary in profiles:
        print(f"\npy-spy, {name}, throughput run:\n{summary}")
    if args.json:
        records = [
            {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in asdict(r).items()}
            for r in runs
        ]
        args.json.write_text(json.dumps(records, indent=2))
    return 1 if any(r.missing for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
